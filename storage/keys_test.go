package storage

import "testing"

// TestOnlyEvidenceIsSweepable: the sweep's test can never select what a dispatch sent,
// whatever the ids look like.
func TestOnlyEvidenceIsSweepable(t *testing.T) {
	for _, id := range []string{"0190c4a8-0000-7000-8000-000000000001", "submissions", "dispatches", "x"} {
		if !IsAttachmentKey(AttachmentKey("t", "s", id)) {
			t.Errorf("attachment key with id %q not recognized", id)
		}
		for _, key := range []string{LetterKey("t", id), ManifestKey("t", id), LetterKey(id, "d"), ManifestKey("submissions", id), DispatchEvidenceKey("t", id, "a"), DispatchEvidenceKey("t", "submissions", id)} {
			if IsAttachmentKey(key) {
				t.Errorf("%s would be swept", key)
			}
		}
	}
	for _, key := range []string{"", "tenants/t/submissions/s", "tenants//submissions/s/a", "other/t/submissions/s/a", "tenants/t/submissions/s/a/b"} {
		if IsAttachmentKey(key) {
			t.Errorf("%q taken for an attachment key", key)
		}
	}
}
