"""The reference server of the serving benchmark (bench/serve.ts): FastAPI + uvicorn + XGBoost.

Usage: serve-fastapi.py DATA_DIR NTHREAD HANDLER

Serves DATA_DIR/model.json (written by serve-xgboost.py) the way a Python team usually does:
a pydantic request model built from the feature list, categories mapped to the codes the model was
trained on (DATA_DIR/meta.json), one float32 row per instance, xgboost Booster.inplace_predict,
and a response of the same shape as Driftline's:

  POST /predict {"instances":[{...}]} -> 200
  {"predictions":[{"predictionId","label","probabilities":{"<class>":p}}],"model":{"version","sha256"}}

HANDLER is "async" (an `async def` endpoint, run on the event loop) or "sync" (a plain `def`, run
in FastAPI's thread pool). Runs uvicorn's default single worker, access log off (Driftline's server
writes none either), on a socket bound here to 127.0.0.1 with a free port, which it prints as one
JSON line before serving.
"""
import hashlib
import importlib.util
import json
import os
import socket
import sys
import uuid
from typing import Optional

import fastapi
import numpy as np
import pydantic
import uvicorn
import xgboost as xgb
from fastapi import FastAPI
from pydantic import BaseModel, conlist, create_model

DATA_DIR, NTHREAD, HANDLER = sys.argv[1], int(sys.argv[2]), sys.argv[3]
META = json.load(open(os.path.join(DATA_DIR, "meta.json")))
MODEL_PATH = os.path.join(DATA_DIR, "model.json")
with open(MODEL_PATH, "rb") as f:
    SHA256 = hashlib.sha256(f.read()).hexdigest()
BOOSTER = xgb.Booster(model_file=MODEL_PATH)
BOOSTER.set_param({"nthread": NTHREAD})
FEATURES = META["features"]
NEGATIVE, POSITIVE = META["classes"]
MAX_INSTANCES = 1000

# Numeric features are required numbers; categorical ones optional strings (missing = NaN).
Instance = create_model(
    "Instance",
    **{
        f["name"]: (float, ...) if f["type"] == "numeric" else (Optional[str], None)
        for f in FEATURES
    },
)


class PredictRequest(BaseModel):
    instances: conlist(Instance, min_items=1, max_items=MAX_INSTANCES)


def encode(instances):
    x = np.empty((len(instances), len(FEATURES)), dtype=np.float32)
    for i, instance in enumerate(instances):
        for j, feature in enumerate(FEATURES):
            value = getattr(instance, feature["name"])
            if feature["type"] == "numeric":
                x[i, j] = value
            elif value is None or value == "":
                x[i, j] = np.nan
            else:
                x[i, j] = feature["codes"].get(value, feature["unknownCode"])
    return x


def predict(request):
    scores = BOOSTER.inplace_predict(encode(request.instances))
    predictions = []
    for p in scores.tolist():
        predictions.append(
            {
                "predictionId": str(uuid.uuid4()),
                "label": POSITIVE if p >= 0.5 else NEGATIVE,
                "probabilities": {NEGATIVE: 1.0 - p, POSITIVE: p},
            }
        )
    return {"predictions": predictions, "model": {"version": None, "sha256": SHA256}}


app = FastAPI()

if HANDLER == "async":

    @app.post("/predict")
    async def predict_async(request: PredictRequest):
        return predict(request)

else:

    @app.post("/predict")
    def predict_sync(request: PredictRequest):
        return predict(request)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before the port is announced: early connections queue instead of being refused.
    sock.listen(2048)
    config = uvicorn.Config(app, access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    has = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    print(
        json.dumps(
            {
                "port": sock.getsockname()[1],
                "loop": "uvloop" if has("uvloop") else "asyncio",
                "http": "httptools" if has("httptools") else "h11",
                "versions": {
                    "fastapi": fastapi.__version__,
                    "uvicorn": uvicorn.__version__,
                    "pydantic": pydantic.VERSION,
                    "xgboost": xgb.__version__,
                },
            }
        ),
        flush=True,
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
