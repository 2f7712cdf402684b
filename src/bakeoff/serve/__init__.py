"""The OpenAI-compatible endpoint (``bakeoff serve``): the app, request parsing and the wire format."""
