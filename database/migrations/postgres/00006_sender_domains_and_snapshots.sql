-- +goose Up
-- Sender domains the platform verified for a tenant: dispatch.from.address and
-- dispatch.reply_to must be at one of them. Tenants keep the domains they use today.
CREATE TABLE sender_domains (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    domain     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
INSERT INTO sender_domains (tenant_id, domain, created_at)
SELECT DISTINCT id, domain, now() FROM (
    SELECT id, lower(substring(settings::jsonb #>> '{dispatch,from,address}' FROM '@([^@]+)$')) AS domain FROM tenants
    UNION
    SELECT id, lower(substring(settings::jsonb #>> '{dispatch,reply_to}' FROM '@([^@]+)$')) FROM tenants
) used WHERE domain IS NOT NULL AND domain <> '';

-- What the final approval of a revision froze: the dispatch settings and the case as
-- they were, which the signatory signs and the dispatch worker sends.
CREATE TABLE approval_snapshots (
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    dispatch      TEXT NOT NULL,
    case_data     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (submission_id, revision)
);
-- Submissions approved before snapshots existed freeze what they would send today.
INSERT INTO approval_snapshots (submission_id, revision, tenant_id, dispatch, case_data, created_at)
SELECT s.id, s.revision, s.tenant_id,
       COALESCE((t.settings::jsonb -> 'dispatch')::text, '{}'),
       json_build_object('number', c.number, 'country', c.country, 'title', c.title,
                         'complainants', c.complainants::jsonb)::text,
       now()
FROM submissions s JOIN tenants t ON t.id = s.tenant_id JOIN cases c ON c.id = s.case_id
WHERE s.state IN ('approved', 'dispatching', 'dispatched', 'dispatch_failed');
