//! The OpenAPI document, generated from the handlers' annotations and the protocol types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{batch, cards, changes, events, history, lanes, meta, trash};

#[derive(OpenApi)]
#[openapi(
    info(title = "Deckhand sync API", version = "1", description = "Protocol v1; see docs/protocol.md"),
    paths(batch::batch, cards::create, cards::get, cards::list, cards::patch, cards::delete, cards::restore, trash::empty, history::versions, lanes::list, lanes::create, lanes::patch, lanes::delete, changes::list, events::stream, meta::openapi),
    components(schemas(
        deckhand_protocol::Card, deckhand_protocol::NewCard, deckhand_protocol::CardChanges,
        deckhand_protocol::PatchCard, deckhand_protocol::RestoreCard, deckhand_protocol::TrashEmptied, deckhand_protocol::CardVersion, deckhand_protocol::VersionsPage, deckhand_protocol::CardsPage, deckhand_protocol::Change,
        deckhand_protocol::ChangesPage, deckhand_protocol::StreamHello, deckhand_protocol::Problem, deckhand_protocol::FieldError,
        deckhand_protocol::ErrorCode, deckhand_protocol::BatchRequest, deckhand_protocol::BatchWrite,
        deckhand_protocol::BatchResult, deckhand_protocol::BatchResponse,
        deckhand_protocol::Lane, deckhand_protocol::NewLane, deckhand_protocol::LaneChanges, deckhand_protocol::PatchLane,
        deckhand_protocol::LanesPage, deckhand_protocol::LaneChange,
        deckhand_protocol::BatchResult, deckhand_protocol::BatchResponse, deckhand_protocol::LinkMeta, deckhand_protocol::LinkStatus,
    )),
    modifiers(&BearerAuth, &NonEmptyChanges),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// `changes` of a PATCH must change something: `minProperties: 1`. (Set here because utoipa-gen
/// 5.5's `#[schema(min_properties = ..)]` emits `maxProperties`.)
struct NonEmptyChanges;

impl Modify for NonEmptyChanges {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        if let Some(RefOr::T(Schema::Object(changes))) =
            openapi.components.as_mut().and_then(|c| c.schemas.get_mut("CardChanges"))
        {
            changes.min_properties = Some(1);
        }
        if let Some(RefOr::T(Schema::Object(changes))) =
            openapi.components.as_mut().and_then(|c| c.schemas.get_mut("LaneChanges"))
        {
            changes.min_properties = Some(1);
        }
    }
}
