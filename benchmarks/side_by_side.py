"""What the side-by-side benchmark scripts (dask_peers.py, xarray_peers.py) share."""


def print_table(rows: dict) -> None:
    """A markdown table of ``{(layout, op): {"zarrsync": s, "zarr": s}}``, with zarr / zarrsync
    (above 1: zarrsync is faster)."""
    print("| layout | op | zarrsync | zarr | zarr / zarrsync |")
    print("|---|---|---|---|---|")
    for (layout, op), t in rows.items():
        print(f"| {layout} | {op} | {t['zarrsync']:.3f} s | {t['zarr']:.3f} s | "
              f"{t['zarr'] / t['zarrsync']:.2f} |")
