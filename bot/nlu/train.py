"""Training with scikit-learn, imported only here (``python -m bot train``, first start, ``evaluate``)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .model import IntentModel

DEFAULT_C = 200.0  # little regularisation: the data is small and clean, and held-out accuracy peaks here
Featurize = Callable[[str], dict[str, float]]


def _pipeline(c: float):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(DictVectorizer(), TfidfTransformer(sublinear_tf=True),
                         LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))


def train_model(feature_dicts: Sequence[dict[str, float]], labels: Sequence[str], c: float = DEFAULT_C,
                domain_words: Sequence[str] | None = None, vocabulary_rows: Sequence[str] = ()) -> IntentModel:
    pipe = _pipeline(c)
    pipe.fit(list(feature_dicts), list(labels))
    vectorizer, tfidf, clf = pipe.steps[0][1], pipe.steps[1][1], pipe.steps[2][1]
    classes = [str(c) for c in clf.classes_]
    coef = clf.coef_
    bias = clf.intercept_
    if len(classes) == 2:  # binary LR stores one row; expand to two logits
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    return IntentModel(classes, list(vectorizer.get_feature_names_out()), tfidf.idf_, coef.T, bias,
                       list(domain_words) if domain_words is not None else None, list(vocabulary_rows))


def cross_validate(feature_dicts: Sequence[dict[str, float]], labels: Sequence[str], folds: int = 5,
                   c: float = DEFAULT_C) -> list[str]:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return [str(p) for p in cross_val_predict(_pipeline(c), list(feature_dicts), list(labels), cv=splitter)]
