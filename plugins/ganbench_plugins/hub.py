"""Hugging Face ``datasets`` (``--dataset huggingface --data-root NAME|DIR``): a hub dataset by name, or a local
copy — a folder written by ``Dataset.save_to_disk``, or an ``imagefolder``/parquet folder. Offline with
``HF_HUB_OFFLINE=1`` once the hub dataset is in the local cache: ganbench never downloads at run time unless
``datasets`` itself is allowed to. Needs the ``[hf]`` extra (``pip install 'ganbench[hf]'``).

The image column is read undecoded (its bytes) and decoded by ganbench's own decoder, so a corrupt, grayscale
or empty image is skipped with a reason and counted, as in ``folder``. Splits: training on ``--split`` (default
``train``); evaluation on the dataset's ``test`` split, else its ``validation`` split, else a deterministic 15%
of the training split; validation on ``validation`` when it is not the test split, else 10% of the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganbench.api import DataError, DatasetSplits, ImageItem, decode_image, hold_out, hookimpl

WHAT = "--dataset huggingface"




def _load(source: str) -> tuple[Any, str]:
    """The DatasetDict (or Dataset) ``source`` names, and a description of where it came from."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"{WHAT} needs the Hugging Face datasets package: pip install 'ganbench[hf]'") from None
    path = Path(source).expanduser()
    try:
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            return datasets.load_from_disk(str(path)), f"saved dataset {path}"
        if path.is_dir():
            has_parquet = any(path.rglob("*.parquet"))
            return datasets.load_dataset("parquet" if has_parquet else "imagefolder", data_dir=str(path)), \
                f"local {'parquet' if has_parquet else 'imagefolder'} {path}"
        return datasets.load_dataset(source), f"hub dataset {source}"
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        offline = " (offline: HF_HUB_OFFLINE=1 needs the dataset in the local cache)" if not path.exists() else ""
        raise DataError(f"{WHAT}: cannot load {source}: {str(exc).splitlines()[0]}{offline}") from None
    except Exception as exc:  # datasets' own errors (DatasetNotFoundError, ...) derive from Exception
        raise DataError(f"{WHAT}: cannot load {source}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def _items(ds, split: str, column: str, prefix: str) -> list[ImageItem]:
    import datasets

    if column not in ds.column_names:
        raise DataError(f"{WHAT}: split {split} has no column '{column}' (columns: {', '.join(ds.column_names)}); "
                        "name it with --set? no: with the dataset option image_column")
    feature = ds.features[column]
    if isinstance(feature, datasets.Image):
        ds = ds.cast_column(column, datasets.Image(decode=False))  # bytes: decoded (and judged) by ganbench
    version = getattr(ds, "_fingerprint", None)

    def loader(i: int):
        def load():
            value = ds[i][column]
            if isinstance(value, dict):
                data = value.get("bytes")
                return decode_image(data if data is not None else Path(value["path"]))
            if isinstance(value, bytes | bytearray):
                return decode_image(bytes(value))
            if isinstance(value, str):
                return decode_image(Path(value))
            raise DataError(f"{WHAT}: column '{column}' holds {type(value).__name__}, not an image")

        return load

    return [ImageItem(key=f"{prefix}{split}/{i}", load=loader(i), version=version) for i in range(len(ds))]


def huggingface(
    data_root=None, split: str | None = None, image_column: str = "image", limit: int | None = None,
    val_fraction: float = 0.1, test_fraction: float = 0.15, evaluate_all: bool = False,
) -> DatasetSplits:
    """A Hugging Face dataset: ``data_root`` a hub name (``user/name``) or a local folder."""
    if data_root is None:
        raise DataError(f"{WHAT} needs --data-root NAME (a hub dataset) or DIR (a local copy)")
    loaded, where = _load(str(data_root))
    splits = dict(loaded) if hasattr(loaded, "keys") else {"train": loaded}
    train_name = split or ("train" if "train" in splits else next(iter(splits)))
    if train_name not in splits:
        raise DataError(f"{WHAT}: {data_root} has no split '{train_name}' (splits: {', '.join(splits)})")

    def items(name: str) -> list[ImageItem]:
        return _items(splits[name], name, image_column, "")

    if evaluate_all:
        name = split or next((s for s in ("test", "validation") if s in splits), train_name)
        return DatasetSplits(train=[], val=[], test=items(name), description=f"huggingface {where} [{name}]")
    rest = items(train_name)
    test_name = next((s for s in ("test", "validation") if s in splits and s != train_name), None)
    if test_name is not None:
        test = items(test_name)
    else:
        rest, test = hold_out(rest, test_fraction)
    val_name = "validation" if "validation" in splits and test_name != "validation" and train_name != "validation" \
        else None
    if val_name is not None:
        val = items(val_name)
        train = rest
    else:
        train, val = hold_out(rest, val_fraction)
    if not test:
        raise DataError(f"{WHAT}: {data_root} has too few photos to hold any out; need two or more")
    if not val:
        val = test[:1]
    if limit is not None:
        train = train[:limit]
    return DatasetSplits(train=train, val=val, test=test,
                         description=f"huggingface {where}: train [{train_name}], test [{test_name or 'held out'}]")


@hookimpl
def register_datasets(register):
    register("huggingface", huggingface,
             description="Hugging Face datasets: --data-root NAME (hub) or DIR (local); needs ganbench's hf extra")
