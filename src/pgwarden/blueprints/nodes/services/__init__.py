"""The nodes blueprint's service layer over one :class:`Core` (the :class:`~pgwarden.Warden`
connected as the app role). Every call names the owner (the authenticated user): it runs in
``Warden.run`` as that owner's signed tenant and actor, so row-level security keeps owners
apart and the audit trail attributes the change. Broken rules raise :class:`NodesError`
subclasses (their ``status`` is the HTTP answer)."""

from __future__ import annotations

from pgwarden.blueprints.nodes.services._core import (
    Conflict,
    Core,
    Invalid,
    NodesError,
    NotFound,
    Row,
)
from pgwarden.blueprints.nodes.services.graph import EDITABLE, Graph
from pgwarden.blueprints.nodes.services.insight import Insight
from pgwarden.warden import Warden


class Nodes:
    """Every workflow of the node system, on one database::

    app = Nodes(nodes.app_warden(url))
    a = app.graph.create_node(me, {"type": "event-storm", "name": "Order placed"})
    b = app.graph.create_node(me, {"type": "function-model", "name": "Place order"})
    app.graph.link(me, b["node_id"], a["node_id"], "depends_on")
    app.insight.search(me, "order")
    """

    def __init__(self, warden: Warden):
        self.core = Core(warden)
        self.graph = Graph(self.core)
        self.insight = Insight(self.core)

    @property
    def warden(self) -> Warden:
        return self.core.warden


__all__ = ["EDITABLE", "Conflict", "Invalid", "Nodes", "NodesError", "NotFound", "Row"]
