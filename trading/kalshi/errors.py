"""What the Kalshi REST client raises: Kalshi's error answers, whatever their body shape
(PROTOCOL.md 9), bodies that do not match the model, and an exchange out of reach."""

import orjson


class KalshiApiError(Exception):
    """An HTTP error answer from Kalshi, whatever its body shape."""

    def __init__(self, status: int, code: str, message: str, details: str = "", service: str = ""):
        self.status, self.code, self.message, self.details, self.service = status, code, message, details, service
        text = f"Kalshi HTTP {status}"
        text += f" {code}" if code else ""
        text += f": {message}" if message and message != code else ""
        text += f" ({details})" if details else ""
        super().__init__(text)

    def is_code(self, code: str) -> bool:
        """Codes can carry a dynamic suffix (``user_not_found:_<uuid>``): match by prefix."""
        return self.code.startswith(code)

    @classmethod
    def from_response(cls, status: int, body: bytes) -> "KalshiApiError":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return cls(status, "", body[:200].decode("utf-8", "replace").strip())
        if not isinstance(data, dict):
            return cls(status, "", str(data)[:200])
        error = data.get("error")
        if isinstance(error, dict):  # nested: most errors
            return cls(
                status,
                str(error.get("code", "")),
                str(error.get("message", "")),
                str(error.get("details") or ""),
                str(error.get("service") or ""),
            )
        if isinstance(error, str):  # 429: {"error": "too many requests"}
            return cls(status, "", error)
        if "code" in data:  # flat: the OpenAPI ErrorResponse
            return cls(status, str(data["code"]), str(data.get("message", "")), str(data.get("details") or ""))
        if "msg" in data:  # bare: query-parameter validation
            return cls(status, "", str(data["msg"]))
        return cls(status, "", str(data)[:200])


class KalshiResponseError(ValueError):
    """A success status whose body does not match the model (a field missing or of the wrong type)."""


class KalshiTransportError(ConnectionError):
    """Kalshi could not be reached (connection refused, timeout) after the retries."""
