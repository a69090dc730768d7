-- +goose Up
-- Sender domains the platform verified for a tenant: dispatch.from.address and
-- dispatch.reply_to must be at one of them. Tenants keep the domains they use today.
CREATE TABLE sender_domains (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    domain     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
INSERT INTO sender_domains (tenant_id, domain, created_at)
SELECT DISTINCT id, domain, strftime('%Y-%m-%d %H:%M:%f', 'now') FROM (
    SELECT id, lower(substr(a, instr(a, '@') + 1)) AS domain
    FROM (SELECT id, json_extract(settings, '$.dispatch.from.address') AS a FROM tenants)
    WHERE a LIKE '%@%'
    UNION
    SELECT id, lower(substr(a, instr(a, '@') + 1))
    FROM (SELECT id, json_extract(settings, '$.dispatch.reply_to') AS a FROM tenants)
    WHERE a LIKE '%@%'
) WHERE domain <> '';

-- What the final approval of a revision froze: the dispatch settings and the case as
-- they were, which the signatory signs and the dispatch worker sends.
CREATE TABLE approval_snapshots (
    submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    dispatch      TEXT NOT NULL,
    case_data     TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (submission_id, revision)
);
-- Submissions approved before snapshots existed freeze what they would send today.
INSERT INTO approval_snapshots (submission_id, revision, tenant_id, dispatch, case_data, created_at)
SELECT s.id, s.revision, s.tenant_id,
       COALESCE(json_extract(t.settings, '$.dispatch'), '{}'),
       json_object('number', c.number, 'country', c.country, 'title', c.title,
                   'complainants', json(c.complainants)),
       strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM submissions s JOIN tenants t ON t.id = s.tenant_id JOIN cases c ON c.id = s.case_id
WHERE s.state IN ('approved', 'dispatching', 'dispatched', 'dispatch_failed');
