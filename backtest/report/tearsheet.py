"""The self-contained HTML tearsheet of a run folder (``tearsheet.html``).

:func:`load_run` reads a run folder into a :class:`RunData`; :func:`build_tearsheet` turns a
``RunData`` (one run, or several merged by :mod:`backtest.report.compare`) into one HTML
page. The page embeds plotly.js once and the figures as JSON (long date axes shared),
so it opens offline from ``file://``. Sections whose input files are absent are skipped;
a malformed optional file skips its section with a note instead of failing the run.

The pieces live in :mod:`backtest.report.rundata` (reading), :mod:`backtest.report.html`
(formatting, tables, the page) and :mod:`backtest.report.sections`; this module assembles
the single-run page and re-exports the names other modules import from it.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from backtest.forking import fork_context
from backtest.report.html import (
    Page,
    clean_run_id,
    esc,
    footer_html,
    period_text,
    settings_items,
    source_html,
)
from backtest.report.rundata import RunData, load_run
from backtest.report.sections import (
    add_sections,
)
from backtest.results import write_text_atomic

__all__ = [ "PngJob", "build_tearsheet", "render_run", "render_tearsheet",
    "run_header_html",
]


def run_header_html(data: RunData) -> str:
    """Header of a single-run tearsheet."""
    p = data.prov
    days = pd.DatetimeIndex(data.returns.index)
    facts = [("data", source_html(p)), ("period", esc(period_text(p, days))),
             ("config hash", f"<code>{esc(p.get('config_hash', '?'))}</code>"),
             ("run id", f"<code>{esc(clean_run_id(p, data.folder))}</code>")]
    facts += [(k, esc(v)) for k, v in settings_items(p)]
    facts.append(("seed / commit", f"{esc(p.get('seed', '?'))} / <code>{esc(p.get('git_commit', '?'))}</code>"))
    kinds = p.get("strategies") or {}
    wide = [("strategies", ", ".join(f"{esc(n)} <span class=muted>({esc(kinds.get(n, '?'))})</span>"
                                     for n in data.strategies))]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    dl += "".join(f'<dt>{esc(k)}</dt><dd class="wide">{v}</dd>' for k, v in wide)
    notes = p.get("notes") or []
    note_html = ("<details class=notes><summary>" + f"{len(notes)} run note(s)</summary><ul>"
                 + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul></details>") if notes else ""
    synth = ('<div class="banner">Synthetic data: these results come from a generated sample market '
             "and say nothing about real markets.</div>") if (p.get("data") or {}).get("synthetic") else ""
    return (f'{synth}<h1>{esc(p.get("name", "run"))} <span class="sub">tearsheet</span></h1>'
            f'<dl class="facts">{dl}</dl>{note_html}')


def build_tearsheet(data: RunData) -> str:
    """The HTML of a single-run tearsheet."""
    page = Page(title=f"{data.prov.get('name', 'run')} — rmpbt tearsheet")
    page.notes.extend(data.notes)
    add_sections(page, data, baseline=None)
    return page.render(run_header_html(data), footer_html())


def render_tearsheet(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write ``tearsheet.html`` for a run folder and return its path."""
    folder = Path(folder)
    target = Path(out) if out is not None else folder / "tearsheet.html"
    write_text_atomic(target, build_tearsheet(load_run(folder)))
    return target


def render_run(folder: str | Path, html: bool = True, png: bool = True, png_job: PngJob | None = None) -> None:
    """Render the report files of a run folder: ``tearsheet.html``, ``equity.png``, ``drawdown.png``.

    Parameters
    ----------
    folder : str or Path
        The run folder (the pipeline passes its temporary folder before the rename).
    html : bool
        Write ``tearsheet.html``.
    png : bool
        Write ``equity.png`` and ``drawdown.png``.
    png_job : PngJob, optional
        A PNG child already started (:meth:`PngJob.start`, e.g. before the run folder was
        written, so that it imports matplotlib meanwhile); started here when omitted and
        both halves are asked for. It is finished (or cancelled) before this returns. A
        child started here leaves this process to import matplotlib while it draws, so that
        the next render's child has it already (re-rendering in one process: ~0.55 s
        instead of ~1 s).
    """
    folder = Path(folder)
    job = png_job
    try:
        data = load_run(folder)
        if job is None and png and html:
            job = PngJob.start()
        sent = job is not None and png and job.send(data, folder)
        if html:
            write_text_atomic(folder / "tearsheet.html", build_tearsheet(data))
        if sent and png_job is None:
            # started here (an API or notebook process, which may render again): load
            # matplotlib while the child draws, so that later children inherit it
            png_writer()
        if png and not (sent and job is not None and job.finish()):
            png_writer()(data, folder)  # sequential, or again in-process when the child failed
    finally:
        if job is not None:
            job.close()


PNG_TIMEOUT_S = 120.0


def png_writer() -> Callable[[RunData, Path], list[Path]]:
    """:func:`backtest.report.png.write_pngs`, imported on first use (matplotlib)."""
    from backtest.report.png import write_pngs

    return write_pngs


def _png_child(conn: Any) -> None:
    try:
        box: list[Any] = []
        # read the data as soon as it comes (the parent's send must not wait for matplotlib)
        reader = threading.Thread(target=lambda: box.append(conn.recv()), daemon=True)
        reader.start()
        write = png_writer()  # matplotlib loads while the parent still writes the run folder
        reader.join()
        if not box or box[0] is None:
            return
        data, folder = box[0]
        write(data, folder)
        conn.send(True)
    except BaseException:  # the parent draws them again and reports the error itself
        raise SystemExit(1) from None  # multiprocessing: exit code 1, no traceback


class PngJob:
    """``equity.png`` and ``drawdown.png`` drawn in a forked child while this process writes the HTML page.

    The two halves of a report are independent, and matplotlib (import and drawing) is
    about half of its time; on a machine with more than one core they run side by side.
    The child is forked early and imports matplotlib (the parent never does); it then
    receives the run's :class:`RunData` (the parts the PNGs draw) and draws. Any failure
    makes the parent draw the PNGs itself. Forked only where :func:`backtest.forking.fork_context`
    allows it (Linux, an idle second core, no other thread); ``RMPBT_REPORT_FORK=0`` turns
    it off, ``=1`` turns it on whatever the load.
    """

    def __init__(self, proc: Any, conn: Any) -> None:
        self.proc, self.conn = proc, conn

    @classmethod
    def start(cls) -> PngJob | None:
        """Fork the child (None where that is not possible or turned off)."""
        ctx = fork_context("RMPBT_REPORT_FORK")
        if ctx is None:
            return None
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_png_child, args=(child,), name="rmpbt-png", daemon=True)
        try:
            proc.start()
        except OSError:
            return None
        child.close()
        return cls(proc, parent)

    def send(self, data: RunData, folder: Path) -> bool:
        """Hand the run data to the child; whether it took it."""
        slim = replace(data, positions=None, costs=None, extras={}, weight_frames=None)
        try:
            self.conn.send((slim, Path(folder)))
        except (OSError, ValueError, TypeError, AttributeError, pickle.PicklingError):
            return False
        return True

    def finish(self) -> bool:
        """Wait for the child; whether it drew both PNGs."""
        try:
            ok = self.conn.poll(PNG_TIMEOUT_S) and self.conn.recv() is True
        except (OSError, EOFError):
            ok = False
        self.proc.join(5.0)
        return bool(ok) and self.proc.exitcode == 0

    def close(self) -> None:
        """Stop the child if it still runs (cancel: nothing was sent, or the parent failed)."""
        if self.proc.is_alive():
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.proc.join(1.0)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
        self.conn.close()
