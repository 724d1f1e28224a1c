"""The methods ``benchmarks/ridge_2v2.py`` times ours against, each fitted per outer fold on
training rows scaled by a training-only ``StandardScaler``:

(b) scikit-learn ``RidgeCV`` (efficient leave-one-out, one alpha for all targets);
(c) a naive loop: per alpha, inner grouped K-fold CV with ``Ridge``, then a refit;
(d) himalaya ``KernelRidgeCV(kernel="linear")``, inner grouped K-fold CV, one alpha per target.

Each returns the out-of-fold predictions (n_samples, n_targets) and the chosen alphas.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler


def sklearn_ridgecv(X, Y, alphas, folds) -> tuple[np.ndarray, np.ndarray]:
    """(b): RidgeCV per outer fold on training rows scaled by a training-only scaler."""
    predictions = np.empty(Y.shape)
    chosen = np.empty(len(folds))
    for number, (train, test) in enumerate(folds):
        scaler = StandardScaler().fit(X[train])
        model = RidgeCV(alphas=alphas, alpha_per_target=False).fit(scaler.transform(X[train]), Y[train])
        predictions[test] = model.predict(scaler.transform(X[test]))
        chosen[number] = model.alpha_
    return predictions, chosen


def naive_nested_cv(X, Y, alphas, folds, groups, n_inner_folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(c): per outer fold, per alpha, inner grouped K-fold with Ridge, then refit."""
    predictions = np.empty(Y.shape)
    chosen = np.empty(len(folds))
    for number, (train, test) in enumerate(folds):
        scaler = StandardScaler().fit(X[train])
        X_train, Y_train = scaler.transform(X[train]), Y[train]
        inner = list(GroupKFold(n_splits=n_inner_folds).split(X_train, Y_train, groups[train]))
        errors = []
        for alpha in alphas:
            squared_error = 0.0
            for inner_train, inner_test in inner:
                model = Ridge(alpha=alpha).fit(X_train[inner_train], Y_train[inner_train])
                squared_error += np.sum((model.predict(X_train[inner_test]) - Y_train[inner_test]) ** 2)
            errors.append(squared_error)
        chosen[number] = alphas[int(np.argmin(errors))]
        model = Ridge(alpha=chosen[number]).fit(X_train, Y_train)
        predictions[test] = model.predict(scaler.transform(X[test]))
    return predictions, chosen


def himalaya_kernel_ridge_cv(X, Y, alphas, folds, groups, n_inner_folds: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(d): himalaya KernelRidgeCV (linear kernel, numpy backend) per outer fold.

    Returns the out-of-fold predictions and the chosen alphas, shape (n_folds, n_targets).
    """
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV

    set_backend("numpy", on_error="raise")
    predictions = np.empty(Y.shape)
    chosen = np.empty((len(folds), Y.shape[1]))
    for number, (train, test) in enumerate(folds):
        scaler = StandardScaler().fit(X[train])
        X_train = scaler.transform(X[train])
        inner = list(GroupKFold(n_splits=n_inner_folds).split(X_train, groups=groups[train]))
        model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=True, cv=inner, warn=False)
        model.fit(X_train, Y[train])
        predictions[test] = np.asarray(model.predict(scaler.transform(X[test])))
        chosen[number] = np.asarray(model.best_alphas_)
    return predictions, chosen


def agreement(ours: np.ndarray, theirs: np.ndarray, alphas_ours, alphas_theirs, folds) -> dict:
    """Largest prediction difference (relative to the largest prediction) on same-alpha folds."""
    same = [number for number in range(len(folds)) if alphas_ours[number] == alphas_theirs[number]]
    if not same:
        return {"folds_same_alpha": 0, "max_relative_difference": None}
    rows = np.concatenate([folds[number][1] for number in same])
    difference = np.abs(ours[rows] - theirs[rows]).max() / np.abs(theirs[rows]).max()
    return {"folds_same_alpha": len(same), "max_relative_difference": float(difference)}
