"""Server settings: how `omne serve` listens and limits requests, and which server a client talks to."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class ServerSettings(BaseModel):
    """`OMNE_SERVER__URL` / `OMNE_SERVER__KEY` make Omne's memory a client of a server; the rest tune `omne serve`."""

    # -- a client of a server (OmneMemory, the responders, `omne memory --server`) --------------
    url: str | None = None  # e.g. http://127.0.0.1:8765; None: a local store under data_dir
    key: SecretStr | None = None  # the API key sent as `Authorization: Bearer ...`
    client_timeout_s: float = Field(default=60.0, gt=0)  # per request
    client_retries: int = Field(default=4, ge=0)  # on 429/503 and on a refused connection, with backoff
    # -- `omne serve` ---------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    max_request_bytes: int = Field(default=8_000_000, ge=1024)  # a JSON request body
    max_upload_bytes: int = Field(default=200_000_000, ge=1024)  # an import or ingest upload
    request_timeout_s: float = Field(default=60.0, gt=0)  # until the response starts
    upload_timeout_s: float = Field(default=900.0, gt=0)  # import and ingest
    max_in_flight: int = Field(default=256, ge=1)  # concurrent requests; more get 503 `overloaded`
    key_cache_s: float = Field(default=2.0, ge=0)  # a verified key is trusted this long (revocation delay)
    worker_threads: int = Field(default=32, ge=1)  # threads for blocking store work (SQLite, chroma) of requests
    reflection_role: str | None = None  # model role for /v1/reflect and /v1/summarize (None: they answer 503)
    graceful_shutdown_s: float = Field(default=30.0, ge=0)  # SIGTERM: in-flight requests get this long
    # -- the memory inspector at /ui -------------------------------------------------------------
    ui: bool = True  # serve the web UI under /ui (login with an API key)
    ui_session_s: float = Field(default=8 * 3600.0, gt=0)  # a UI login lasts at most this long
    ui_idle_s: float = Field(default=1800.0, gt=0)  # ... and ends after this long without a request
