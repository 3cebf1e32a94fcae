// What `pulumi up` runs: the stack's config becomes one MailFleet; its outputs are the stack's.
import { mailfleetProgram } from "./components/program";

export = mailfleetProgram();
