"""Evidence collectors: fetch what a reference points at and keep it with its custody (docs/collectors.md)."""
