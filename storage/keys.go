package storage

import "strings"

// The layout of the store, in one place: every object key is built here from internal
// ids, never from a client's file name.
//
//	tenants/{tenant}/submissions/{submission}/{attachment}   an evidence file
//	tenants/{tenant}/dispatches/{dispatch}/letter.pdf         the exact letter sent
//	tenants/{tenant}/dispatches/{dispatch}/manifest.json      what a dispatch sent
//	tenants/{tenant}/dispatches/{dispatch}/evidence/{attachment}  a cleaned copy a dispatch linked to
//	tenants/{tenant}/correspondence/{item}/{file}             an attachment of a message the ILO sent
//
// Objects stored encrypted (all written since encryption at rest) add ".age" to these
// keys (package keys). Evidence files are the only objects that may be removed by the orphan sweep; what a
// dispatch sent is kept as the record of it.

// TenantsPrefix is the prefix of every tenant's objects.
const TenantsPrefix = "tenants/"

// AttachmentKey is where an evidence file is kept.
func AttachmentKey(tenantID, submissionID, attachmentID string) string {
	return TenantsPrefix + tenantID + "/submissions/" + submissionID + "/" + attachmentID
}

// LetterKey is where the exact letter of a dispatch is kept.
func LetterKey(tenantID, dispatchID string) string {
	return TenantsPrefix + tenantID + "/dispatches/" + dispatchID + "/letter.pdf"
}

// ManifestKey is where the manifest of a dispatch is kept.
func ManifestKey(tenantID, dispatchID string) string {
	return TenantsPrefix + tenantID + "/dispatches/" + dispatchID + "/manifest.json"
}

// DispatchEvidenceKey is where a dispatch keeps the cleaned copy of an evidence file it
// sent as a download link (ADR 0028).
func DispatchEvidenceKey(tenantID, dispatchID, attachmentID string) string {
	return TenantsPrefix + tenantID + "/dispatches/" + dispatchID + "/evidence/" + attachmentID
}

// CorrespondenceKey is where an attachment of an imported message is kept (ADR 0036).
func CorrespondenceKey(tenantID, itemID, fileID string) string {
	return TenantsPrefix + tenantID + "/correspondence/" + itemID + "/" + fileID
}

// IsAttachmentKey reports whether key has the shape of an evidence file's key: the
// only kind of object the orphan sweep may remove.
func IsAttachmentKey(key string) bool {
	parts := strings.Split(key, "/")
	return len(parts) == 5 && parts[0]+"/" == TenantsPrefix && parts[2] == "submissions" &&
		parts[1] != "" && parts[3] != "" && parts[4] != ""
}
