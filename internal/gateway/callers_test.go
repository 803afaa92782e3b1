package gateway

import (
	"net/http/httptest"
	"testing"

	"github.com/signway/signway/internal/inbound"
	"github.com/signway/signway/internal/reqinfo"
)

// TestAdmittedRecordsCaller: the caller goes into the request's record for
// the access log and traces.
func TestAdmittedRecordsCaller(t *testing.T) {
	info := &reqinfo.Info{}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(reqinfo.With(r.Context(), info))
	admitted(r, &inbound.Result{Caller: &inbound.Caller{ID: "agent-7"}})
	if info.Caller != "agent-7" {
		t.Errorf("recorded caller %q", info.Caller)
	}
}
