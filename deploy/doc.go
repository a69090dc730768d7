// Package deploy holds no code: it is the Go module whose tests check the deployment
// files beside them (compose.yaml, loaded strictly by the Compose specification's own
// loader), so that the portal's module does not depend on that loader.
package deploy
