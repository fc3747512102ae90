"""Thin platform entrypoints over :class:`taskchain.service.Service`: parse, call, render."""
