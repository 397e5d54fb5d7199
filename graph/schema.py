"""The schema: the Query, Mutation and Subscription roots composed from the features, and its limits
(docs/api.md §3, docs/quality.md §4).

The roots list their fields in the order of the published SDL (schema.graphql), which other teams build against;
each field is declared, with its inputs and payload, in its feature's package.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ASTValidationRule, ValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.schema.config import StrawberryConfig

from graph import subscriptions
from graph.applications import mutations as applications
from graph.applications import queries as application_queries
from graph.areas import queries as areas
from graph.claims import mutations as claims
from graph.claims import queries as claim_queries
from graph.departures import mutations as departures
from graph.dev import queries as dev
from graph.errors import LocalizedErrors, should_mask
from graph.fairness import queries as fairness
from graph.intake import mutations as intake
from graph.intake import queries as intake_queries
from graph.limits import CostLimitRule
from graph.offers import mutations as offers
from graph.people import queries as people
from graph.places import mutations as places
from graph.places import queries as place_queries
from graph.request_errors import CachedParser, CodedExecutor, RequestErrorCodes
from graph.shared import SharedSchema
from graph.siblings import mutations as siblings

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 3000
_LIMIT_RULES: tuple[type[ValidationRule], ...] = (
    create_depth_validator(MAX_DEPTH, None),
    create_alias_validator(MAX_ALIASES),
    CostLimitRule,
)


@strawberry.type(description="What clients read: people, applications, places and queues, figures.")
class Query:
    viewer = people.viewer
    my_children = people.my_children
    child = people.child
    application = application_queries.application
    application_by_number = application_queries.application_by_number
    regions = place_queries.regions
    kindergartens = place_queries.kindergartens
    kindergarten = place_queries.kindergarten
    public_queue = place_queries.public_queue
    priority_claims_to_verify = claim_queries.priority_claims_to_verify
    area_stats = areas.area_stats
    sent_messages = dev.sent_messages
    intake_run = intake_queries.intake_run
    intake_runs = intake_queries.intake_runs
    fairness_report = fairness.fairness_report


@strawberry.type(
    description="What clients change. Each mutation takes one `input` and answers a payload with the changed object "
    "and `errors`; it changes everything it should in one transaction, or nothing."
)
class Mutation:
    submit_application = applications.submit_application
    change_choices = applications.change_choices
    withdraw_application = applications.withdraw_application
    create_kindergarten = places.create_kindergarten
    create_group = places.create_group
    set_group_capacity = places.set_group_capacity
    set_group_capacities = places.set_group_capacities
    verify_priority_claim = claims.verify_priority_claim
    revoke_priority_claim = claims.revoke_priority_claim
    restore_application = applications.restore_application
    confirm_offer = offers.confirm_offer
    decline_offer = offers.decline_offer
    extend_contract = offers.extend_contract
    sign_contract = offers.sign_contract
    link_siblings = siblings.link_siblings
    leave_kindergarten = offers.leave_kindergarten
    plan_departure = departures.plan_departure
    create_intake_run = intake.create_intake_run
    publish_intake_run = intake.publish_intake_run
    discard_intake_run = intake.discard_intake_run


@strawberry.type(
    description="What clients hear of over graphql-transport-ws on /graphql, the token in connection_init; each event "
    "is sent once its change has committed."
)
class Subscription:
    seat_offers = subscriptions.seat_offers
    application_updates = subscriptions.application_updates
    vacancy_updates = subscriptions.vacancy_updates


def build_schema(*, production: bool) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = [*_LIMIT_RULES]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [
        RequestErrorCodes,  # GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED (graph/request_errors.py)
        CachedParser,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        # Last, so that it validates with every rule above; the rule classes are built once, so the cache
        # key (schema, document, rules) repeats and bank apps' few documents are validated once each.
        lambda: ValidationCache(maxsize=512),
        LocalizedErrors,  # coded errors' messages in the caller's language
    ]
    if production:
        extensions.append(lambda: MaskErrors(should_mask_error=should_mask))
    return SharedSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=CodedExecutor,  # BAD_USER_INPUT for variables
        config=StrawberryConfig(auto_camel_case=True),
    )
