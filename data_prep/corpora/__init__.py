"""Corpus builders (commands): the Bible, the synthesized speech corpus with its engines and
voices, and the real recordings of packages."""
