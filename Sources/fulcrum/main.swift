// fulcrum: the load balancer. Everything lives in FulcrumControlPlane; see Fulcrum.main.
import FulcrumControlPlane
import Glibc

exit(Fulcrum.main(Array(CommandLine.arguments.dropFirst())))
