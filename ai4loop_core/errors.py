"""The one input exception of the project."""

from __future__ import annotations


class BadInputError(ValueError):
    """Input a user gave us is wrong; the message says where and what to do.

    Raised for files (name, line or column), ids, model names and options. The CLI prints the
    message without a traceback and exits with status 2.
    """
