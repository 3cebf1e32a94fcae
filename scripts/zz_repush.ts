import { deployFiles, labHost, loadLabFleet, push } from "./lab";
(async () => { const f = loadLabFleet(); for (const n of process.argv.slice(2)) { const r = await push(labHost(f, n), deployFiles(f, labHost(f, n))); console.log(n, r.code, r.stderr.slice(-300)); } })();
