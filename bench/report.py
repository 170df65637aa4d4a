"""Targets and the Markdown tables of a benchmark result."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, cast

__all__ = ["evaluate_targets", "markdown"]

MIB = 1 << 20


def _size(nbytes: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if nbytes >= factor and nbytes % factor == 0:
            return f"{nbytes // factor} {unit}"
    return f"{nbytes} B"


def _get(result: Dict[str, Any], *keys: str) -> Any:
    """``result[k1][k2]...`` or None when a section failed or a key is missing."""
    node: Any = result
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _target(
    tid: str, name: str, value: Optional[float], op: str, limit: float, unit: str
) -> Dict[str, Any]:
    met: Optional[bool] = None
    if value is not None:
        met = value <= limit if op == "<=" else value >= limit
    return {
        "id": tid,
        "name": name,
        "value": value,
        "op": op,
        "limit": limit,
        "unit": unit,
        "met": met,
    }


def dcc_ratios(sections: Dict[str, Any]) -> Dict[str, Optional[float]]:
    """``dcc.send_file`` against ours for the same mid-size file.

    Time: the callback's answer vs our download of the file by path.
    Memory: peak RSS growth over idle, ours floored at one chunk (1 MiB) so
    that sampling noise near zero cannot make the ratio arbitrary; and the
    ratio of absolute peak RSS (which includes the idle Dash app).
    """
    dcc_s = _get(sections, "dcc", "median_s")
    ours_s = _get(sections, "memory_items", "file_path", "median_s")
    dcc_growth = _get(sections, "dcc", "growth")
    ours_growth = _get(sections, "rss", "mid_path", "growth")
    dcc_peak = _get(sections, "dcc", "peak_rss")
    ours_peak = _get(sections, "rss", "mid_path", "peak_rss")
    return {
        "time": dcc_s / ours_s if dcc_s and ours_s else None,
        "memory_growth": (
            dcc_growth / max(ours_growth, MIB)
            if dcc_growth is not None and ours_growth is not None
            else None
        ),
        "memory_peak": dcc_peak / ours_peak if dcc_peak and ours_peak else None,
    }


def queue_child_ratio(sections: Dict[str, Any], size: str) -> Optional[float]:
    """CacheQueue: child register -> servable, over CacheFile.register, for ``size`` bytes."""
    reg = sections.get("register", {})
    child = _get(reg, "CacheQueue", "child_process", size, "total_median_ms")
    file = _get(reg, "CacheFile", size, "median_ms")
    return child / file if child and file else None


def evaluate_targets(sections: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The issue's targets, each with its measured value and whether it is met."""
    last = _get(sections, "range", "last", "ours_median_ms")
    sizes = [str(x) for x in sections.get("register", {}).get("CacheFile", {}) if x.isdigit()]
    largest = max(sizes, key=int) if sizes else ""
    ratios = dcc_ratios(sections)
    growth = _get(sections, "rss", "big_path", "growth")
    return [
        _target(
            "ondisk",
            "on-disk download time, ours / send_file",
            _get(sections, "ondisk", "ratio_ours_to_send_file"),
            "<=",
            1.05,
            "x",
        ),
        _target("range_last", "Range: last MiB, ours (median)", last, "<=", 10.0, "ms"),
        _target(
            "range_spread",
            "Range: max - min of ours' medians (first/middle/last)",
            _get(sections, "range", "ours_spread_ms"),
            "<=",
            5.0,
            "ms",
        ),
        _target(
            "parallel",
            "parallel throughput, ours / send_file",
            _get(sections, "parallel", "ratio_ours_to_send_file"),
            ">=",
            0.95,
            "x",
        ),
        _target(
            "rss",
            "worker RSS growth streaming the big file",
            None if growth is None else growth / MIB,
            "<=",
            16.0,
            "MiB",
        ),
        _target("dcc_time", "dcc.send_file time / ours", ratios["time"], ">=", 30.0, "x"),
        _target(
            "dcc_memory",
            "dcc.send_file RSS growth / ours",
            ratios["memory_growth"],
            ">=",
            15.0,
            "x",
        ),
        _target(
            "queue_child",
            "CacheQueue child register -> servable / CacheFile.register (largest size)",
            queue_child_ratio(sections, largest),
            "<=",
            2.0,
            "x",
        ),
        _target(
            "writer_rss",
            "register(writer) into CacheFile: peak RSS growth over the writer's own",
            _get(sections, "writers", "writer_over_own_mib"),
            "<=",
            8.0,
            "MiB",
        ),
    ]


def _fmt_ratio(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.2f}x"


def _mark(met: Optional[bool]) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[met]


def _fmt_s(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _fmt_ms(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _fmt_mib(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f} MiB"


def _largest_process(entry: Dict[str, Any]) -> str:
    """``; largest one: <kind> +N MiB`` from a browser row's ``per_process``, or ``""``."""
    rows = entry.get("per_process") or []
    if not rows:
        return ""
    top = rows[0]
    return f"; largest one: {top['kind']} +{top['growth_mib']:.1f} MiB"


def _fmt_x(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _faster(base: Optional[float], ours: Optional[float]) -> str:
    if not base or not ours:
        return "n/a"
    ratio = base / ours
    return f"{ratio:,.0f}x faster" if ratio >= 10 else f"{ratio:.1f}x faster"


def _rate(seconds: Optional[float], size: Optional[int]) -> str:
    if not seconds or not size:
        return ""
    return f" ({size / MIB / seconds:,.0f} MiB/s)"


def markdown(result: Dict[str, Any]) -> str:
    """The result as Markdown: the main table, the register table, the targets."""
    s = result["sections"]
    plan = result["plan"]
    big, mid, span = _size(plan["big"]), _size(plan["mid"]), _size(plan["range_size"])
    targets = {t["id"]: t for t in result["targets"]}
    rows: List[List[str]] = []

    def row(measure: str, ours: str, base: str, ratio: str, tid: str = "") -> None:
        target = targets.get(tid)
        goal = f"{target['op']} {target['limit']:g}{target['unit']}" if target else ""
        rows.append([measure, ours, base, ratio, goal, _mark(target["met"]) if target else ""])

    runs = plan["runs"]
    od = s.get("ondisk", {})
    row(
        f"1. {big} file on disk, download (median of {runs})",
        _fmt_s(od.get("ours_median_s")) + _rate(od.get("ours_median_s"), plan["big"]),
        "send_file "
        + _fmt_s(od.get("send_file_median_s"))
        + _rate(od.get("send_file_median_s"), plan["big"]),
        _fmt_x(od.get("ratio_ours_to_send_file"))
        + f" time (best runs: {_fmt_x(od.get('best_ratio_ours_to_send_file'))})",
        "ondisk",
    )
    mi = s.get("memory_items", {})
    sf_mid = _get(mi, "send_file", "median_s")
    for key, label in (
        ("plain_bytesio", "BytesIO in CachePlain"),
        ("file_bytesio", "BytesIO in CacheFile"),
        ("file_path", "path in CacheFile"),
    ):
        med = _get(mi, key, "median_s")
        row(
            f"2. {mid} {label}, download (median of {plan['mid_runs']})",
            _fmt_s(med) + _rate(med, plan["mid"]),
            "send_file " + _fmt_s(sf_mid) + _rate(sf_mid, plan["mid"]),
            _fmt_x(med / sf_mid if med and sf_mid else None) + " time",
        )
    rg = s.get("range", {})
    for where in ("last", "middle", "first"):
        ours, base = _get(rg, where, "ours_median_ms"), _get(rg, where, "send_file_median_ms")
        row(
            f"3. Range: {where} {span} of {big} (median of {plan['range_runs']} / "
            f"{plan['range_runs_send_file']})",
            _fmt_ms(ours),
            "send_file " + _fmt_ms(base),
            _faster(base, ours),
            "range_last" if where == "last" else "",
        )
    row(
        "3. Range: spread of ours' three medians",
        _fmt_ms(rg.get("ours_spread_ms")),
        "",
        "",
        "range_spread",
    )
    pa = s.get("parallel", {})
    row(
        f"4. {plan['par_n']} parallel {_size(plan['par_size'])} downloads, aggregate "
        f"(median of {plan['par_runs']})",
        f"{pa.get('ours_median_mib_s', 0):,.0f} MiB/s",
        f"send_file {pa.get('send_file_median_mib_s', 0):,.0f} MiB/s",
        _fmt_x(pa.get("ratio_ours_to_send_file"))
        + f" (best runs: {_fmt_x(pa.get('best_ratio_ours_to_send_file'))})",
        "parallel",
    )
    ours_small, sf_small = pa.get("ours_small", {}), pa.get("send_file_small", {})

    def _small(entry: Dict[str, Any]) -> str:
        if not entry:
            return "n/a"
        return (
            f"{entry['req_s_median']:,.0f} req/s, p99 {entry['p99_ms_median']:.1f} ms, "
            f"max {entry['max_ms_median']:.1f} ms"
        )

    row(
        f"4b. {plan['par_n']}-way concurrent 1-byte Range requests "
        f"(median of {plan['par_runs']} batches)",
        _small(ours_small),
        "send_file " + _small(sf_small),
        _fmt_x(
            ours_small["req_s_median"] / sf_small["req_s_median"]
            if ours_small and sf_small
            else None
        )
        + " req/s",
    )
    rs = s.get("rss", {})
    for key, label, tid in (
        ("big_path", f"{big} path", "rss"),
        ("mid_path", f"{mid} path", ""),
        ("mid_plain_bytesio", f"{mid} BytesIO in CachePlain", ""),
    ):
        entry = rs.get(key, {})
        row(
            f"5. worker RSS growth streaming {label} (fresh server)",
            f"+{_fmt_mib(entry.get('growth'))} (idle {_fmt_mib(entry.get('idle_rss'))}, "
            f"peak {_fmt_mib(entry.get('peak_rss'))})",
            "",
            "",
            tid,
        )
    dc = s.get("dcc", {})
    ratios = dcc_ratios(s)
    ours_mid = _get(mi, "file_path", "median_s")
    row(
        f"6. {mid}: server time, ours (path) vs dcc.send_file (median of {plan['dcc_runs']})",
        _fmt_s(ours_mid),
        "dcc.send_file " + _fmt_s(dc.get("median_s")),
        _fmt_x(ratios["time"]) + " faster",
        "dcc_time",
    )
    row(
        f"6. {mid}: response bytes",
        f"{plan['mid']:,}",
        f"dcc.send_file {dc.get('response_bytes', 0):,}",
        _fmt_x(dc.get("response_to_file")) + " larger",
    )
    row(
        f"6. {mid}: worker RSS growth / peak (fresh servers)",
        f"+{_fmt_mib(_get(rs, 'mid_path', 'growth'))} / "
        f"{_fmt_mib(_get(rs, 'mid_path', 'peak_rss'))}",
        f"dcc.send_file +{_fmt_mib(dc.get('growth'))} / {_fmt_mib(dc.get('peak_rss'))}",
        f"{_fmt_x(ratios['memory_growth'])} growth, {_fmt_x(ratios['memory_peak'])} peak",
        "dcc_memory",
    )
    br = s.get("browser", {})
    for key, label in (
        ("anchor", "`<a href=addr&download=true>` click"),
        ("cached_download", "`CachedDownload` (native)"),
        ("cached_download_fetch", "`CachedDownload` (fetch)"),
        ("cached_download_stream", "`CachedDownload` (stream)"),
    ):
        entry = br.get(key) if isinstance(br, dict) else None
        if not isinstance(entry, dict) or "seconds" not in entry:
            reason = (entry or {}).get("skipped") if isinstance(entry, dict) else None
            reason = reason or br.get("skipped") or br.get("error") or "not run"
            row(f"8. browser {big} download, {label}", f"n/a ({reason})", "", "")
            continue
        row(
            f"8. browser {big} download, {label}",
            f"{_fmt_s(entry['seconds'])}{_rate(entry['seconds'], plan['big'])}; renderer RSS "
            f"+{_fmt_mib(entry['renderer_growth'])}, all Chromium +"
            f"{_fmt_mib(entry['chromium_all_growth'])}"
            + _largest_process(entry)
            # keyed by bool, looked up with the entry's value (None when absent)
            + cast(
                Dict[Optional[bool], str], {True: "; byte-identical", False: "; DIFFERENT BYTES"}
            ).get(entry.get("identical"), ""),
            "",
            "",
        )

    wr = s.get("writers", {})
    wsize = _size(plan["writer_size"])
    for key, label, tid in (
        ("writer", "`register(writer)`", "writer_rss"),
        ("bytesio", "BytesIO then `register`", ""),
    ):
        over = _get(wr, key + "_over_own_mib")
        row(
            f"9. generate a {wsize} CSV + register in CacheFile, {label}: peak RSS growth, "
            f"time (median of {plan['writer_runs']})",
            f"+{_fmt_mib(_get(wr, key, 'growth_max'))}, {_fmt_s(_get(wr, key, 'median_s'))}",
            f"writer alone +{_fmt_mib(_get(wr, 'writer_only', 'growth_max'))}, "
            f"{_fmt_s(_get(wr, 'writer_only', 'median_s'))}",
            "n/a" if over is None else f"+{over:.1f} MiB over the writer's own",
            tid,
        )
    row(
        f"9. generate a {wsize} CSV + register: time, writer vs BytesIO",
        _fmt_s(_get(wr, "writer", "median_s")),
        "BytesIO " + _fmt_s(_get(wr, "bytesio", "median_s")),
        _fmt_x(wr.get("time_ratio_writer_to_bytesio")) + " time",
    )

    head = ["Measure", "dash-file-cache", "Baseline", "Ratio", "Target", "Met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]

    reg = s.get("register", {})
    sizes = [str(x) for x in plan["reg_sizes"]]
    reg_head = ["7. `register` of a BytesIO (median)"] + [_size(int(x)) for x in sizes]
    reg_lines = ["| " + " | ".join(reg_head) + " |", "|" + "---|" * len(reg_head)]
    for cache in ("CachePlain", "CacheQueue", "CacheFile"):
        cells = [_fmt_ms(_get(reg, cache, x, "median_ms")) for x in sizes]
        where = " (serving process)" if cache == "CacheQueue" else ""
        reg_lines.append(f"| {cache}{where} | " + " | ".join(cells) + " |")
    for key, label in (
        ("register_median_ms", "CacheQueue in a child process: register"),
        ("to_servable_median_ms", "CacheQueue: child's register returned -> address servable"),
        ("total_median_ms", "CacheQueue: child's register called -> address servable"),
    ):
        cells = [_fmt_ms(_get(reg, "CacheQueue", "child_process", x, key)) for x in sizes]
        reg_lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ratio_cells = [_fmt_ratio(queue_child_ratio(s, x)) for x in sizes]
    reg_lines.append(
        "| CacheQueue child register -> servable / CacheFile.register (target <= 2x) | "
        + " | ".join(ratio_cells)
        + " |"
    )
    if "error" in reg:
        reg_lines.append(f"| error: {reg['error']} | |")

    errors = [
        f"- {name}: {sec['error']}"
        for name, sec in s.items()
        if isinstance(sec, dict) and "error" in sec
    ]
    out = "\n".join(lines) + "\n\n" + "\n".join(reg_lines) + "\n"
    if errors:
        out += "\nSections that failed:\n" + "\n".join(errors) + "\n"
    return out
