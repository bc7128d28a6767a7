"""The framework's own ceiling for ``bench_http``: a FastAPI app answering a small JSON, served
by the same uvicorn with the same workers and hit by the same wrk script as ``GET /v1/locate``."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/v1/locate")
async def hello() -> dict:
    return {"message": "hello world"}
