"""Data helpers: MIDI melodies rendered with a sound font (evaluation and training sets)."""

from .midi import Note, find_soundfont, random_melody, render_midi, write_midi

__all__ = ["Note", "random_melody", "write_midi", "render_midi", "find_soundfont"]
