# ruff: noqa: E501
"""Initial schema: every table of the trial database (generated from cartrial.store.models).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_sha256", sa.String(length=64), nullable=False),
        sa.Column("row_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "action IN ('insert', 'update', 'delete')", name=op.f("ck_audit_log_action_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_record", ["table_name", "record_id"], unique=False)

    op.create_table(
        "studies",
        sa.Column("study_code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("protocol_version", sa.String(length=32), nullable=False),
        sa.Column("protocol_yaml", sa.Text(), nullable=False),
        sa.Column("protocol_sha256", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "phase IN ('escalation', 'expansion')", name=op.f("ck_studies_phase_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint(
            "study_code", "protocol_version", name=op.f("uq_studies_study_code_protocol_version")
        ),
    )
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "data_locks",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data_cutoff", sa.Date(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_data_locks_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_locks")),
    )
    with op.batch_alter_table("data_locks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_locks_study_id"), ["study_id"], unique=False)

    op.create_table(
        "dose_decisions",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("cohort", sa.Integer(), nullable=False),
        sa.Column("dose_level", sa.String(length=16), nullable=False),
        sa.Column("dose_index", sa.Integer(), nullable=False),
        sa.Column("n_treated", sa.Integer(), nullable=False),
        sa.Column("n_dlt", sa.Integer(), nullable=False),
        sa.Column("design", sa.String(length=32), nullable=False),
        sa.Column("recommended_action", sa.String(length=32), nullable=False),
        sa.Column("recommended_next_dose_index", sa.Integer(), nullable=True),
        sa.Column("recommendation_reason", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("next_dose_index", sa.Integer(), nullable=True),
        sa.Column("next_dose_level", sa.String(length=16), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_dose_decisions_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_decisions")),
    )
    with op.batch_alter_table("dose_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dose_decisions_study_id"), ["study_id"], unique=False)

    op.create_table(
        "signatures",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=64), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("meaning", sa.String(length=64), nullable=False),
        sa.Column("record_table", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signatures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.create_index("ix_signatures_record", ["record_table", "record_id"], unique=False)

    op.create_table(
        "sites",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_sites_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("study_id", "code", name=op.f("uq_sites_study_id_code")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_study_id"), ["study_id"], unique=False)

    op.create_table(
        "role_assignments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'investigator', 'site_coordinator', 'data_manager', 'monitor', 'statistician', 'safety_committee')",
            name=op.f("ck_role_assignments_role_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_role_assignments_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_assignments")),
    )
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_assignments_user_id"), ["user_id"], unique=False)

    op.create_table(
        "subjects",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("indication", sa.String(length=16), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("age_years", sa.Integer(), nullable=True),
        sa.Column("ecog", sa.Integer(), nullable=True),
        sa.Column("screened_date", sa.Date(), nullable=True),
        sa.Column("withdrawn_date", sa.Date(), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "indication IS NULL OR indication IN ('gastric', 'gej', 'pancreatic')",
            name=op.f("ck_subjects_indication_valid"),
        ),
        sa.CheckConstraint(
            "phase IS NULL OR phase IN ('escalation', 'expansion')",
            name=op.f("ck_subjects_phase_valid"),
        ),
        sa.CheckConstraint("sex IS NULL OR sex IN ('F', 'M')", name=op.f("ck_subjects_sex_valid")),
        sa.CheckConstraint(
            "status IN ('screening', 'screen_failed', 'enrolled', 'infused', 'completed', 'withdrawn', 'died')",
            name=op.f("ck_subjects_status_valid"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_subjects_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_subjects_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
        sa.UniqueConstraint(
            "study_id", "subject_code", name=op.f("uq_subjects_study_id_subject_code")
        ),
    )
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subjects_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subjects_study_id"), ["study_id"], unique=False)

    op.create_table(
        "ada_results",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column("screen", sa.String(length=16), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=True),
        sa.Column("titer", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "screen IN ('negative', 'positive')", name=op.f("ck_ada_results_screen_valid")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_ada_results_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ada_results")),
    )
    with op.batch_alter_table("ada_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ada_results_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "adverse_events",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("soc", sa.String(length=200), nullable=False),
        sa.Column("verbatim", sa.Text(), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column("attribution", sa.String(length=16), nullable=False),
        sa.Column("alternative_cause", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("is_dlt", sa.Boolean(), nullable=True),
        sa.Column("dlt_rule_id", sa.String(length=64), nullable=True),
        sa.Column("dlt_reason", sa.Text(), nullable=True),
        sa.Column("dlt_adjudicated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlt_adjudicated_by", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "alternative_cause IS NULL OR alternative_cause IN ('lymphodepletion', 'disease_progression', 'other')",
            name=op.f("ck_adverse_events_alternative_cause_valid"),
        ),
        sa.CheckConstraint(
            "attribution IN ('unrelated', 'unlikely', 'possible', 'probable', 'definite')",
            name=op.f("ck_adverse_events_attribution_valid"),
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('recovered', 'recovering', 'not_recovered', 'recovered_with_sequelae', 'fatal', 'unknown')",
            name=op.f("ck_adverse_events_outcome_valid"),
        ),
        sa.CheckConstraint("grade BETWEEN 1 AND 5", name=op.f("ck_adverse_events_grade_range")),
        sa.CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= onset_at",
            name=op.f("ck_adverse_events_resolved_after_onset"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_adverse_events_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_events")),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_events_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "crs_icans_observations",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("observed_date", sa.Date(), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("hypotension", sa.Boolean(), nullable=False),
        sa.Column("vasopressors", sa.Integer(), nullable=False),
        sa.Column("oxygen_device", sa.String(length=32), nullable=True),
        sa.Column("oxygen_flow_l_min", sa.Float(), nullable=True),
        sa.Column("ice_orientation", sa.Integer(), nullable=True),
        sa.Column("ice_naming", sa.Integer(), nullable=True),
        sa.Column("ice_commands", sa.Integer(), nullable=True),
        sa.Column("ice_writing", sa.Integer(), nullable=True),
        sa.Column("ice_attention", sa.Integer(), nullable=True),
        sa.Column("consciousness", sa.String(length=32), nullable=True),
        sa.Column("seizure", sa.String(length=32), nullable=True),
        sa.Column("motor", sa.String(length=32), nullable=True),
        sa.Column("icp", sa.String(length=32), nullable=True),
        sa.Column("ice_score", sa.Integer(), nullable=True),
        sa.Column("crs_grade", sa.Integer(), nullable=True),
        sa.Column("crs_driver", sa.String(length=64), nullable=True),
        sa.Column("icans_grade", sa.Integer(), nullable=True),
        sa.Column("icans_driver", sa.String(length=64), nullable=True),
        sa.Column("tocilizumab", sa.Boolean(), nullable=False),
        sa.Column("steroids", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_crs_icans_observations_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crs_icans_observations")),
    )
    with op.batch_alter_table("crs_icans_observations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crs_icans_observations_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "data_queries",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("record_table", sa.String(length=64), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'closed')", name=op.f("ck_data_queries_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_data_queries_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_data_queries_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_queries")),
    )
    with op.batch_alter_table("data_queries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_queries_study_id"), ["study_id"], unique=False)

    op.create_table(
        "dose_assignments",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("dose_level", sa.String(length=16), nullable=False),
        sa.Column("dose_index", sa.Integer(), nullable=False),
        sa.Column("target_cells", sa.Float(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["dose_decisions.id"],
            name=op.f("fk_dose_assignments_decision_id_dose_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_dose_assignments_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_assignments")),
    )
    with op.batch_alter_table("dose_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dose_assignments_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "eligibility_assessments",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("assessed_date", sa.Date(), nullable=False),
        sa.Column("cldn18_ihc_pct", sa.Float(), nullable=True),
        sa.Column("cldn18_ihc_assay", sa.String(length=100), nullable=True),
        sa.Column("pdl1_cps", sa.Float(), nullable=True),
        sa.Column("histology", sa.String(length=100), nullable=True),
        sa.Column("eligible", sa.Boolean(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_eligibility_assessments_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_assessments")),
    )
    with op.batch_alter_table("eligibility_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eligibility_assessments_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "enrolments",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_date", sa.Date(), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("cohort", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "phase IN ('escalation', 'expansion')", name=op.f("ck_enrolments_phase_valid")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_enrolments_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolments_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "infusions",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("dose_level", sa.String(length=16), nullable=False),
        sa.Column("dose_index", sa.Integer(), nullable=False),
        sa.Column("target_cells", sa.Float(), nullable=False),
        sa.Column("actual_cells", sa.Float(), nullable=False),
        sa.Column("infused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("product_lot", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("actual_cells > 0", name=op.f("ck_infusions_actual_cells_positive")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_infusions_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infusions")),
    )
    with op.batch_alter_table("infusions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_infusions_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "kinetics_samples",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("lloq", sa.Float(), nullable=False),
        sa.Column("below_lloq", sa.Boolean(), nullable=False),
        sa.Column("assay", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "unit IN ('copies/ug gDNA', 'cells/uL')", name=op.f("ck_kinetics_samples_unit_valid")
        ),
        sa.CheckConstraint(
            "below_lloq OR value IS NOT NULL", name=op.f("ck_kinetics_samples_value_or_below_lloq")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_kinetics_samples_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kinetics_samples")),
    )
    with op.batch_alter_table("kinetics_samples", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kinetics_samples_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "lab_results",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lbtestcd", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("lln", sa.Float(), nullable=True),
        sa.Column("uln", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("term", sa.String(length=200), nullable=True),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("grade_criterion", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_lab_results_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_results")),
    )
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lab_results_subject_test", ["subject_id", "lbtestcd"], unique=False
        )

    op.create_table(
        "lymphodepletions",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("dose", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("administered_date", sa.Date(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_lymphodepletions_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lymphodepletions")),
    )
    with op.batch_alter_table("lymphodepletions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lymphodepletions_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "phenotype_panels",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column("panel", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_phenotype_panels_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phenotype_panels")),
    )
    with op.batch_alter_table("phenotype_panels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phenotype_panels_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "subsequent_therapies",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("therapy", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_subsequent_therapies_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsequent_therapies")),
    )
    with op.batch_alter_table("subsequent_therapies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsequent_therapies_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "survival_followups",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("contact_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("death_cause", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('alive', 'dead', 'lost_to_follow_up', 'withdrew_consent')",
            name=op.f("ck_survival_followups_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_survival_followups_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survival_followups")),
    )
    with op.batch_alter_table("survival_followups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survival_followups_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "timepoint_responses",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("target_response", sa.String(length=16), nullable=True),
        sa.Column("nontarget_response", sa.String(length=16), nullable=True),
        sa.Column("new_lesions", sa.Boolean(), nullable=False),
        sa.Column("overall_response", sa.String(length=16), nullable=False),
        sa.Column("sum_of_diameters_mm", sa.Float(), nullable=True),
        sa.Column("pct_change_from_baseline", sa.Float(), nullable=True),
        sa.Column("pct_change_from_nadir", sa.Float(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "overall_response IN ('CR', 'PR', 'SD', 'PD', 'NE', 'NON-CR/NON-PD')",
            name=op.f("ck_timepoint_responses_overall_response_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_timepoint_responses_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timepoint_responses")),
    )
    with op.batch_alter_table("timepoint_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timepoint_responses_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "tumour_lesions",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("lesion_code", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("organ", sa.String(length=64), nullable=False),
        sa.Column("is_lymph_node", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "category IN ('target', 'non_target', 'new')",
            name=op.f("ck_tumour_lesions_category_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_tumour_lesions_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tumour_lesions")),
        sa.UniqueConstraint(
            "subject_id", "lesion_code", name=op.f("uq_tumour_lesions_subject_id_lesion_code")
        ),
    )
    op.create_table(
        "ae_grade_changes",
        sa.Column("adverse_event_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("grade BETWEEN 0 AND 5", name=op.f("ck_ae_grade_changes_grade_range")),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_events.id"],
            name=op.f("fk_ae_grade_changes_adverse_event_id_adverse_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ae_grade_changes")),
    )
    with op.batch_alter_table("ae_grade_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ae_grade_changes_adverse_event_id"), ["adverse_event_id"], unique=False
        )

    op.create_table(
        "eligibility_criteria",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("criterion_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('inclusion', 'exclusion')", name=op.f("ck_eligibility_criteria_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["eligibility_assessments.id"],
            name=op.f("fk_eligibility_criteria_assessment_id_eligibility_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_criteria")),
    )
    with op.batch_alter_table("eligibility_criteria", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eligibility_criteria_assessment_id"), ["assessment_id"], unique=False
        )

    op.create_table(
        "lesion_measurements",
        sa.Column("lesion_id", sa.Integer(), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("diameter_mm", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lesion_id"],
            ["tumour_lesions.id"],
            name=op.f("fk_lesion_measurements_lesion_id_tumour_lesions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesion_measurements")),
    )
    with op.batch_alter_table("lesion_measurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lesion_measurements_lesion_id"), ["lesion_id"], unique=False
        )

    op.create_table(
        "phenotype_values",
        sa.Column("panel_id", sa.Integer(), nullable=False),
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["panel_id"],
            ["phenotype_panels.id"],
            name=op.f("fk_phenotype_values_panel_id_phenotype_panels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phenotype_values")),
    )
    with op.batch_alter_table("phenotype_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phenotype_values_panel_id"), ["panel_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade the schema."""
    with op.batch_alter_table("phenotype_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phenotype_values_panel_id"))

    op.drop_table("phenotype_values")
    with op.batch_alter_table("lesion_measurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lesion_measurements_lesion_id"))

    op.drop_table("lesion_measurements")
    with op.batch_alter_table("eligibility_criteria", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eligibility_criteria_assessment_id"))

    op.drop_table("eligibility_criteria")
    with op.batch_alter_table("ae_grade_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ae_grade_changes_adverse_event_id"))

    op.drop_table("ae_grade_changes")
    op.drop_table("tumour_lesions")
    with op.batch_alter_table("timepoint_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timepoint_responses_subject_id"))

    op.drop_table("timepoint_responses")
    with op.batch_alter_table("survival_followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survival_followups_subject_id"))

    op.drop_table("survival_followups")
    with op.batch_alter_table("subsequent_therapies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsequent_therapies_subject_id"))

    op.drop_table("subsequent_therapies")
    with op.batch_alter_table("phenotype_panels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phenotype_panels_subject_id"))

    op.drop_table("phenotype_panels")
    with op.batch_alter_table("lymphodepletions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lymphodepletions_subject_id"))

    op.drop_table("lymphodepletions")
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.drop_index("ix_lab_results_subject_test")

    op.drop_table("lab_results")
    with op.batch_alter_table("kinetics_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kinetics_samples_subject_id"))

    op.drop_table("kinetics_samples")
    with op.batch_alter_table("infusions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_infusions_subject_id"))

    op.drop_table("infusions")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolments_subject_id"))

    op.drop_table("enrolments")
    with op.batch_alter_table("eligibility_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eligibility_assessments_subject_id"))

    op.drop_table("eligibility_assessments")
    with op.batch_alter_table("dose_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_assignments_subject_id"))

    op.drop_table("dose_assignments")
    with op.batch_alter_table("data_queries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_queries_study_id"))

    op.drop_table("data_queries")
    with op.batch_alter_table("crs_icans_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crs_icans_observations_subject_id"))

    op.drop_table("crs_icans_observations")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_events_subject_id"))

    op.drop_table("adverse_events")
    with op.batch_alter_table("ada_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ada_results_subject_id"))

    op.drop_table("ada_results")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subjects_study_id"))
        batch_op.drop_index(batch_op.f("ix_subjects_site_id"))

    op.drop_table("subjects")
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_assignments_user_id"))

    op.drop_table("role_assignments")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_study_id"))

    op.drop_table("sites")
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index("ix_signatures_record")

    op.drop_table("signatures")
    with op.batch_alter_table("dose_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dose_decisions_study_id"))

    op.drop_table("dose_decisions")
    with op.batch_alter_table("data_locks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_locks_study_id"))

    op.drop_table("data_locks")
    op.drop_table("users")
    op.drop_table("studies")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_record")

    op.drop_table("audit_log")
    op.drop_table("audit_chain_head")
