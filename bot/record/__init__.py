"""The record: the per-incident hash chain, timeline entries, the ingest writer and retention."""
