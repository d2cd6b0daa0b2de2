"""Backtesting the whale strategy over a recording (``manage.py backtest``)."""
