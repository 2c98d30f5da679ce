"""A small notes API: enough routes to show the image works."""

from fastapi import FastAPI, HTTPException

app = FastAPI(title="notes")

notes = {1: "Build with the tools, ship without them."}


@app.get("/health")
def health():
    """What the image's HEALTHCHECK asks."""
    return {"status": "ok"}


@app.get("/notes/{note_id}")
def read_note(note_id: int):
    if note_id not in notes:
        raise HTTPException(status_code=404, detail="no such note")
    return {"id": note_id, "text": notes[note_id]}


@app.post("/notes")
def add_note(text: str):
    note_id = max(notes) + 1
    notes[note_id] = text
    return {"id": note_id, "text": text}
