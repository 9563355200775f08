from .text import words
