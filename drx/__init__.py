"""The application layer: the ``drx`` command and the app's shared pieces, joining drcore and db."""
