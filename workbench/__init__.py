"""workbench: LLM-assisted review and annotation of research-paper abstracts."""

__version__ = "0.2.0"
