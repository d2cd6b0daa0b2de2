"""What every whale led to: features at detection, markouts, settlement and the
what-if P&L of following or fading it (README, "Judging the strategy")."""
