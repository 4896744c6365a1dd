//! Pushes of the match API: a durable outbox of webhook deliveries (every `block` to the
//! supervisors' endpoints, every change of verdict to a monitor's endpoint), written in the
//! same transaction as the decision that causes them, and the monitors themselves.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000008_create_webhooks_monitors"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Url)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Event)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::MatchId)
                            .string_len(36)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::MonitorId)
                            .string_len(36)
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Body).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    // Unix microseconds: compared in SQL, and SQLite compares timestamps as text.
                    .col(
                        ColumnDef::new(WebhookDeliveries::NextAttemptUs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::State)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::State)
                    .col(WebhookDeliveries::NextAttemptUs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Monitors::Table)
                    .col(
                        ColumnDef::new(Monitors::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Monitors::Caller).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Monitors::ProjectId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Monitors::Request).text().not_null())
                    .col(ColumnDef::new(Monitors::Until).date().not_null())
                    .col(
                        ColumnDef::new(Monitors::WebhookUrl)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Monitors::Verdicts).text().not_null())
                    .col(
                        ColumnDef::new(Monitors::LastMatchId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Monitors::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Monitors::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Monitors::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    Url,
    Event,
    MatchId,
    MonitorId,
    Body,
    Signature,
    CreatedAt,
    Attempts,
    NextAttemptUs,
    State,
    LastError,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Monitors {
    Table,
    Id,
    Caller,
    ProjectId,
    Request,
    Until,
    WebhookUrl,
    Verdicts,
    LastMatchId,
    CreatedAt,
    UpdatedAt,
}
