"""The review's `m` key: what the model said beside what was stored after the prompt's checks (a page;
the same key closes it). A mixin, so the main screen's module stays within its size."""

from __future__ import annotations

from workbench.review import model_said
from workbench.tui.notices import tell
from workbench.tui.screens.paper_keys import keys_of


class ModelSaidAction:
    """`action_model_said` for the review screen (which has `view` and `app`)."""

    def action_model_said(self) -> None:
        from workbench.tui.screens.dialogs import ReadingScreen
        from workbench.tui.widgets.checked import said_widgets

        view = self.view
        said = model_said(view.suggestion if view is not None else None)
        if said is None:
            tell(self, "No reply from a model to show for this paper (none yet, or it failed).", severity="warning")
            return
        self.app.open_dialog(ReadingScreen("model-said", keys_of(self.app, "model_said"),
                                           lambda: said_widgets(said, "esc")))
