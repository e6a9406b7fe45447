"""Progress bars for `workbench suggest`, `workbench batch collect --wait` and `workbench copy` (rich, on a
terminal only; rich is loaded only then)."""

from __future__ import annotations

from workbench.safe_text import one_line


class _Bars:
    """A rich progress display on stderr while the block runs, when `enabled` (a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None

    def columns(self, rich_progress) -> list:
        raise NotImplementedError

    def __enter__(self):
        if self.enabled:
            from rich import progress as rich_progress
            from rich.console import Console

            self._progress = rich_progress.Progress(*self.columns(rich_progress), console=Console(stderr=True),
                                                    transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._progress.__exit__(*exc)


class SuggestProgress(_Bars):
    def __init__(self, enabled: bool):
        super().__init__(enabled)
        self._task = None

    def columns(self, rp) -> list:
        return [rp.TextColumn("suggesting"), rp.BarColumn(), rp.MofNCompleteColumn(),
                rp.TextColumn("ok {task.fields[ok]} · failed {task.fields[failed]} · cached {task.fields[cached]}"),
                rp.TextColumn("{task.fields[rate]}/s"), rp.TimeRemainingColumn()]

    def update(self, report) -> None:
        if not self._progress:
            return
        if self._task is None:
            self._task = self._progress.add_task("suggest", total=report.to_request, ok=0, failed=0,
                                                 cached=report.cached, rate="0.0")
        rate = report.done / max(report.wall_seconds, 1e-6)
        self._progress.update(self._task, completed=report.done, ok=report.outcomes["ok"], failed=report.failed,
                              rate=f"{rate:.1f}")


class CopyProgress(_Bars):
    """`workbench copy`: one bar per table."""

    def __init__(self, enabled: bool):
        super().__init__(enabled)
        self._tasks: dict[str, object] = {}

    def columns(self, rp) -> list:
        return [rp.TextColumn("{task.description}", markup=False), rp.BarColumn(), rp.MofNCompleteColumn()]

    def rows(self, table: str, done: int, total: int) -> None:
        if self._progress:
            if table not in self._tasks:  # a table's name: ours, never data
                self._tasks[table] = self._progress.add_task(one_line(table, 30), total=total)
            task = self._tasks[table]
            self._progress.update(task, completed=done)


class BatchProgress(_Bars):
    """`workbench batch collect --wait`: one bar per batch (the engine's counts, then lines stored)."""

    def __init__(self, enabled: bool):
        super().__init__(enabled)
        self._tasks: dict[str, object] = {}

    def columns(self, rp) -> list:
        return [rp.TextColumn("{task.fields[name]}", markup=False), rp.TextColumn("{task.fields[state]}", markup=False),
                rp.BarColumn(), rp.MofNCompleteColumn()]

    def _task(self, batch_id: str, total: int | None):
        if batch_id not in self._tasks:
            self._tasks[batch_id] = self._progress.add_task(batch_id, total=total, name=one_line(batch_id, 40),
                                                            state="")
        return self._tasks[batch_id]

    def state(self, row) -> None:
        """What the engine says: state and requests done so far."""
        if self._progress:
            done = (row.completed or 0) + (row.failed or 0)
            self._progress.update(self._task(row.id, row.requests), completed=done,
                                  state=one_line(row.state + (", collected" if row.collected_at else ""), 30))

    def stored(self, report) -> None:
        """Lines read from its result files while they are stored."""
        if self._progress:
            self._progress.update(self._task(report.batch_id, None), completed=report.lines, state="storing")
