"""XGBoost model of the serving benchmark (bench/serve.ts): trains on the very matrix Driftline trained on.

Usage: serve-xgboost.py DATA_DIR

Reads train.f32 and test.f32 (row-major float32, rows x features, NaN = missing), labels.f32 and
meta.json that bench/serve-data.ts wrote to DATA_DIR, trains XGBoost (tree_method=hist,
binary:logistic) with the same trees, depth, learning rate, min_child_weight, lambda and bins as the
Driftline model, saves it as DATA_DIR/model.json, writes the test rows' probabilities as float32 to
DATA_DIR/test-scores.f32, and prints one JSON line: trees, nodes, file bytes, training seconds.
"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb


def main():
    data_dir = sys.argv[1]
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    cols = len(meta["features"])
    x = np.fromfile(os.path.join(data_dir, "train.f32"), dtype=np.float32).reshape(meta["rows"], cols)
    y = np.fromfile(os.path.join(data_dir, "labels.f32"), dtype=np.float32)
    p = meta["params"]
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": p["maxDepth"],
        "eta": p["learningRate"],
        "min_child_weight": p["minChildWeight"],
        "lambda": p["lambda"],
        "subsample": p["subsample"],
        "colsample_bytree": p["colsampleByTree"],
        "max_bin": p["maxBins"],
        "seed": 1,
    }
    started = time.perf_counter()
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), num_boost_round=p["nEstimators"])
    seconds = time.perf_counter() - started
    path = os.path.join(data_dir, "model.json")
    booster.save_model(path)
    x_test = np.fromfile(os.path.join(data_dir, "test.f32"), dtype=np.float32).reshape(meta["testRows"], cols)
    booster.inplace_predict(x_test).astype(np.float32).tofile(os.path.join(data_dir, "test-scores.f32"))
    trees = json.load(open(path))["learner"]["gradient_booster"]["model"]["trees"]
    nodes = sum(int(t["tree_param"]["num_nodes"]) for t in trees)
    print(json.dumps({"trees": len(trees), "nodes": nodes, "bytes": os.path.getsize(path), "seconds": seconds}))


if __name__ == "__main__":
    main()
