"""The web layer: FastAPI app factory, REST routes, websocket stream, frame encoding."""
