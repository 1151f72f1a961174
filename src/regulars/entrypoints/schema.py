"""The whole schema: importing this module registers every domain's tables."""

from __future__ import annotations

from regulars.baskets import models as baskets_models
from regulars.catalog import models as catalog_models
from regulars.core.db import Base
from regulars.imports import models as imports_models
from regulars.insights import models as insights_models
from regulars.jobs import models as jobs_models
from regulars.loyalty import models as loyalty_models
from regulars.members import models as members_models
from regulars.notify import models as notify_models
from regulars.offers import models as offers_models
from regulars.sales import models as sales_models
from regulars.staff import models as staff_models

metadata = Base.metadata
MODEL_MODULES = (
    members_models,
    catalog_models,
    sales_models,
    staff_models,
    imports_models,
    notify_models,
    loyalty_models,
    jobs_models,
    baskets_models,
    insights_models,
    offers_models,
)

__all__ = ["MODEL_MODULES", "metadata"]
