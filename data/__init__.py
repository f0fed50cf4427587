"""Corpora, the character tokenizer and batch sampling for minigpt-tui."""
