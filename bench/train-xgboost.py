"""XGBoost side of the trainer benchmark (bench/train.ts), one training run per process.

Usage: train-xgboost.py DATA_DIR NTHREAD PREDICTIONS_OUT

Reads the float32 column-major matrices and float64 labels that bench/train.ts wrote to DATA_DIR
(meta.json says the shapes, task and parameters), trains XGBoost with tree_method=hist and the same
settings, writes the test predictions (probabilities row-major, or values) as float64 to
PREDICTIONS_OUT, and prints one JSON line: training seconds and peak RSS.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import xgboost as xgb


def matrix(path, rows, cols):
    # Column-major on disk: one feature after another.
    return np.ascontiguousarray(np.fromfile(path, dtype=np.float32).reshape(cols, rows).T)


def main():
    data_dir, nthread, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    meta = json.load(open(os.path.join(data_dir, "meta.json")))
    cols = meta["cols"]
    x_train = matrix(os.path.join(data_dir, "train.f32"), meta["trainRows"], cols)
    y_train = np.fromfile(os.path.join(data_dir, "train-labels.f64"), dtype=np.float64)
    x_test = matrix(os.path.join(data_dir, "test.f32"), meta["testRows"], cols)
    p = meta["params"]
    params = {
        "tree_method": "hist",
        "grow_policy": "depthwise",
        "max_depth": p["maxDepth"],
        "eta": p["learningRate"],
        "lambda": p["lambda"],
        "min_child_weight": p["minChildWeight"],
        "max_bin": p["maxBins"],
        "subsample": p["subsample"],
        "colsample_bytree": p["colsampleByTree"],
        "nthread": nthread,
        "seed": 0,
    }
    task = meta["task"]
    if task == "binary":
        params["objective"] = "binary:logistic"
        params["base_score"] = float(np.clip(y_train.mean(), 1e-6, 1 - 1e-6))
    elif task == "multiclass":
        params["objective"] = "multi:softprob"
        params["num_class"] = meta["numClasses"]
    else:
        params["objective"] = "reg:squarederror"
        params["base_score"] = float(y_train.mean())
    dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, nthread=nthread)
    dtest = xgb.DMatrix(x_test, missing=np.nan, nthread=nthread)
    start = time.perf_counter()
    booster = xgb.train(params, dtrain, num_boost_round=p["nEstimators"])
    seconds = time.perf_counter() - start
    booster.predict(dtest).astype(np.float64).tofile(out)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peakRssMb": rss_mb}))


if __name__ == "__main__":
    main()
