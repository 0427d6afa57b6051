"""Demo models: what `make demo` registers, so the registry shows a champion with its validation report (and a
draft challenger) and the risk pages a behaviour model, right after `make demo` — on a machine that has only the
repository.

The demo's models are SHIPPED, in `demo_models/` next to this module (package data, see its PROVENANCE.md): the
retail-pd scorecard (champion) and LightGBM challenger trained on the UCI German credit data, the behaviour-pd
scorecard trained on the UCI Taiwan credit-card data, and the bureau profiles the demo's bureau draws its files
from. Each artifact is the JSON text the registry stores, with its metrics and validation report, exactly as the
training below produces them (seed 0). The public data sets themselves are never copied into the repository:
`creditplan build-demo-models` retrains from `CREDITPLAN_DATA_DIR` and rewrites the folder, and a test checks that
the shipped files equal a fresh training, so they cannot drift from their recipe. `seed_models` only registers
them: the demo never needs the data sets.

For the retail-pd models, the German data set's columns are first put in the words of the platform's application
and of a Chinese credit-bureau file (`scoring.domain.vocabulary`: readable codes such as `overdue_past`, with
Chinese and English labels), so that the demo's online form, branch form and API are scored on what they collect:
the applicant states the purpose, months at the current employer, housing and dependants; age comes from the
customer record; everything else is the credit bureau's file — current-account balance, repayment record, deposits,
instalment-to-income band, guarantee, years at the address, assets, other lenders' instalment plans, existing credit
accounts, occupation level (the demo's bureau, `origination.sources.demo_credit_file`, draws each customer a file
from the bureau profiles: per attribute, how often each category occurs among the good and the bad files — counts,
not rows). The data set's sex and marital status, "foreign worker" and telephone columns are left out (a lender must
not score on the first two; a bureau does not report the third), and so are the loan's duration and amount: they
are the terms the decision prices and limits, not facts about the applicant. Months, years, ages and counts are
trained as numbers, so that any value an applicant states is scored, not only the data set's few.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import platform
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from creditplan.core.access import Actor
from creditplan.scoring import engine, services
from creditplan.scoring.domain.vocabulary import GERMAN_BUREAU

PURPOSE = {"A40": "car", "A41": "car", "A42": "consumption", "A43": "consumption", "A44": "consumption",
           "A45": "renovation", "A46": "education", "A47": "travel", "A48": "education", "A49": "business",
           "A410": "other"}
HOUSING = {"A151": "rent", "A152": "own", "A153": "free"}
MONTHS_EMPLOYED = {"A71": 0, "A72": 6, "A73": 30, "A74": 66, "A75": 120}  # the middle of each band
#: What the bureau reports, in the product's words (scoring.domain.vocabulary: the German data's codes A11…, A30…
#: read as "overdrawn", "overdue_past"…); sex and marital status, nationality and telephone are not among them.
BUREAU_FILE: tuple[str, ...] = tuple(name for name, _codes in GERMAN_BUREAU.values())
#: The inputs that are numbers (months, years, counts): trained as numbers, so any value scores, not only the
#: data set's.
NUMERIC_INPUTS: tuple[str, ...] = ("months_employed", "age", "dependants", "years_at_address",
                                   "existing_credit_accounts")

MODELS_DIR = Path(__file__).resolve().with_name("demo_models")
"""The shipped demo models and bureau profiles (package data)."""
MANIFEST = "models.json"
BUREAU_PROFILES = "bureau_profiles.json"
FORMAT = "creditplan.demo-models/1"
GOOD_SHARE = 8
"""Out of 10 demo customers, how many get a file drawn from the good (repaid) profile."""

#: The public data sets the shipped files are derived from (their PROVENANCE.md in the shared data folder).
DATASETS: dict[str, dict[str, str]] = {
    "german_credit": {
        "file": "german_credit/german_credit.csv",
        "citation": "Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository. "
                    "https://doi.org/10.24432/C5NC77",
        "licence": "CC BY 4.0",
    },
    "taiwan_default_credit_card": {
        "file": "taiwan_default_credit_card/default_of_credit_card_clients.csv.gz",
        "citation": "Yeh, I-C. (2016). default of credit card clients. UCI Machine Learning Repository. "
                    "https://doi.org/10.24432/C55S3H; Yeh, I-C. & Lien, C. (2009). Expert Systems with "
                    "Applications 36(2):2473-2480",
        "licence": "CC BY 4.0",
    },
}


# --- the recipe (needs the data sets: `creditplan build-demo-models`, the tests) ----------------------------------

def german_source() -> Path:
    return Path(settings.DATA_DIR) / "german_credit" / "german_credit.csv"


@cache
def german_rows() -> pd.DataFrame:
    return pd.read_csv(german_source(), dtype=str)


def application_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The German data set as the platform's application and bureau name it (see the module's docstring)."""
    out = pd.DataFrame(index=raw.index)
    for column, (name, codes) in GERMAN_BUREAU.items():
        out[name] = raw[column].map(codes) if codes else raw[column].astype(int)
    out["loan_purpose"] = raw["purpose"].map(PURPOSE).fillna("other")
    out["months_employed"] = raw["employment_since"].map(MONTHS_EMPLOYED)
    out["age"] = raw["age_years"].astype(int)
    out["housing"] = raw["housing"].map(HOUSING)
    out["dependants"] = raw["people_liable"].astype(int)
    out["class"] = raw["class"]
    return out


@dataclass(frozen=True)
class Built:
    """A demo model version as trained by its recipe, before it is written to the folder."""

    key: str  # the file names' stem
    model: str  # the registry's model name
    role: str  # "champion" (validated, approved, promoted) or "challenger" (a draft)
    description: str
    source: str  # a key of DATASETS
    trained: engine.Trained


RETAIL_PD_DESCRIPTION = "Retail PD scorecard (German credit demo data, in the product's words)"


def train_retail_pd(seed: int = 0) -> list[Built]:
    """The demo's retail-pd champion (scorecard) and challenger (gbm), trained on the German data put in the
    application's words."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "german_credit_as_applications.csv"
        application_frame(german_rows()).to_csv(source, index=False)
        champion = engine.train(data_path=source, target="class", bad_value=2, kind="scorecard", seed=seed,
                                numeric=NUMERIC_INPUTS)
        challenger = engine.train(data_path=source, target="class", bad_value=2, kind="gbm", seed=seed,
                                  numeric=NUMERIC_INPUTS)
    return [Built("retail-pd-scorecard", "retail-pd", "champion", RETAIL_PD_DESCRIPTION, "german_credit", champion),
            Built("retail-pd-gbm", "retail-pd", "challenger", "", "german_credit", challenger)]


def bureau_profiles(raw: pd.DataFrame) -> dict[str, Any]:
    """For each attribute of the bureau's file, how many of the good (class 1) and of the bad (class 2) files hold
    each category: aggregate counts of the German data set, never its rows."""
    frame = application_frame(raw)
    good, bad = frame[frame["class"] == "1"], frame[frame["class"] == "2"]

    def counts(part: pd.DataFrame, column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in sorted(part[column].value_counts().items())}

    return {"source": "german_credit", "classes": {"good": "1", "bad": "2"},
            "files": {"good": len(good), "bad": len(bad)},
            "attributes": {a: {"good": counts(good, a), "bad": counts(bad, a)} for a in BUREAU_FILE}}


def artifact_text(artifact: dict[str, Any]) -> str:
    """The artifact as the registry stores it (scoring.services.register_version): its sha256 is the version's."""
    return json.dumps(artifact, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "scikit-learn", "optbinning", "lightgbm"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def write_demo_models(out: Path, built: Sequence[Built], profiles: dict[str, Any], *, seed: int = 0) -> list[Path]:
    """Write the built versions (artifact and report gzipped, metrics as JSON), the bureau profiles and the manifest
    into `out`; gzip without a time stamp, so the same training gives the same bytes. Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes, *, compress: bool = False) -> str:
        path = out / name
        path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0) if compress else data)
        written.append(path)
        return name

    versions = []
    for b in built:
        text = artifact_text(b.trained.artifact)
        holdout = (b.trained.artifact.get("training", {}).get("metrics", {}).get("holdout") or {})
        versions.append({
            "key": b.key, "model": b.model, "kind": b.trained.artifact.get("kind"), "role": b.role,
            "description": b.description, "source": b.source,
            "artifact": put(f"{b.key}.artifact.json.gz", text.encode(), compress=True),
            "artifact_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "metrics": put(f"{b.key}.metrics.json",
                           (json.dumps(b.trained.metrics, sort_keys=True, indent=1) + "\n").encode()),
            "report_html": put(f"{b.key}.report.html.gz", b.trained.report_html.encode(), compress=True),
            "holdout_auc": holdout.get("auc"),
        })
    put(BUREAU_PROFILES, (json.dumps(profiles, indent=1) + "\n").encode())
    data_dir = Path(settings.DATA_DIR)
    used = sorted({b.source for b in built} | {str(profiles["source"])})
    sources = {key: {**DATASETS[key], "sha256": _sha256_file(data_dir / DATASETS[key]["file"])} for key in used}
    manifest = {"format": FORMAT, "command": f"creditplan build-demo-models --seed {seed}", "seed": seed,
                "trained_with": _library_versions(), "sources": sources, "versions": versions,
                "bureau_profiles": BUREAU_PROFILES}
    put(MANIFEST, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
    return written


# --- the shipped files (what the demo uses: no data set needed) -----------------------------------------------------

@dataclass(frozen=True)
class Shipped:
    """A shipped demo model version, read from the folder."""

    key: str
    model: str
    role: str
    description: str
    artifact: str  # the JSON text the registry stores
    artifact_sha256: str
    metrics: dict[str, Any]
    report_html: str


def _read(folder: Path, name: str) -> bytes:
    data = (folder / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


def manifest(folder: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_read(folder or MODELS_DIR, MANIFEST))
    return result


def shipped_versions(model: str, folder: Path | None = None) -> list[Shipped]:
    """The shipped versions of `model` in the order they are registered (the champion first). A file that does not
    match the manifest's sha256 is refused: what is registered is what was built."""
    folder = folder or MODELS_DIR
    out = []
    for entry in manifest(folder)["versions"]:
        if entry["model"] != model:
            continue
        text = _read(folder, entry["artifact"]).decode("utf-8")
        if hashlib.sha256(text.encode()).hexdigest() != entry["artifact_sha256"]:
            raise RuntimeError(f"{folder / entry['artifact']} does not match its sha256 in {MANIFEST}: "
                               "rebuild it with `creditplan build-demo-models`")
        out.append(Shipped(entry["key"], entry["model"], entry["role"], entry["description"], text,
                           entry["artifact_sha256"], json.loads(_read(folder, entry["metrics"])),
                           _read(folder, entry["report_html"]).decode("utf-8")))
    return sorted(out, key=lambda s: s.role != "champion")


def register_shipped(author: Actor, approver: Actor, model: str) -> list[services.VersionView]:
    """Register the shipped versions of `model`: the champion validated by `author`, approved by `approver` (another
    person) and promoted by `author`; a challenger stays a draft."""
    views = []
    for s in shipped_versions(model):
        v = services.register_version(author, model_name=s.model, artifact=s.artifact, report_html=s.report_html,
                                      metrics=s.metrics, description=s.description)
        if s.role == "champion":
            services.validate_version(author, v.id)
            services.approve_version(approver, v.id)
            v = services.promote_champion(author, v.id)
        views.append(v)
    return views


def seed_models(author: Actor, approver: Actor, log: Callable[[str], object] = print) -> int:
    """The demo's retail-pd models (`creditplan seed-demo`): the shipped scorecard, champion, and gbm challenger."""
    return len(register_shipped(author, approver, "retail-pd"))


@cache
def _profiles() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_read(MODELS_DIR, BUREAU_PROFILES))
    return result


def _draw(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def demo_bureau_file(key: str) -> dict[str, Any]:
    """A bureau file for the demo, the same for the same `key`: GOOD_SHARE in 10 keys are drawn from the profile of
    the files that repaid (class 1), the others from that of all the files, good and bad (as when the demo's bureau
    handed out rows of the data set: one of the good rows, or any row); each attribute is drawn from the chosen
    profile's category counts (the shipped bureau profiles)."""
    attributes = _profiles()["attributes"]
    only_good = _draw(key) % 10 < GOOD_SHARE
    out = {}
    for name in BUREAU_FILE:
        good, bad = attributes[name]["good"], attributes[name]["bad"]
        counts = sorted(good.items()) if only_good else sorted(
            (c, good.get(c, 0) + bad.get(c, 0)) for c in set(good) | set(bad))
        point = _draw(f"{key}:{name}") % sum(n for _, n in counts)
        for category, n in counts:
            if point < n:
                out[name] = int(category) if name in NUMERIC_INPUTS else category
                break
            point -= n
    return out
