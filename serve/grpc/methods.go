package grpc

import (
	"google.golang.org/grpc"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// serviceDescs are the akidb.v1 services this server registers.
var serviceDescs = []*grpc.ServiceDesc{
	&akidbv1.CollectionService_ServiceDesc,
	&akidbv1.ManagementService_ServiceDesc,
}

// Methods returns the full method name ("/akidb.v1.CollectionService/Query")
// of every akidb.v1 RPC, derived from the generated service descriptions,
// so an authorization layer can map each one to an action and a test can
// prove none is missed. Health and reflection are not included.
func Methods() []string {
	var out []string
	for _, d := range serviceDescs {
		for _, m := range d.Methods {
			out = append(out, "/"+d.ServiceName+"/"+m.MethodName)
		}
		for _, st := range d.Streams {
			out = append(out, "/"+d.ServiceName+"/"+st.StreamName)
		}
	}
	return out
}
