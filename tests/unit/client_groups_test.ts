import assert from "node:assert/strict";
import { clientGroup } from "../../functions/_shared/http/client_groups.ts";

Deno.test("throttles count an IPv6 client by its prefix, an IPv4 client by its address", () => {
  assert.equal(clientGroup("192.0.2.7", 64), "192.0.2.7");
  assert.equal(clientGroup("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64), "2001:db8:1:2:0:0:0:0/64");
  assert.equal(clientGroup("2001:DB8:1:2::1", 64), "2001:db8:1:2:0:0:0:0/64");
  assert.equal(clientGroup("[2001:db8:1:2::1]:443", 64), "2001:db8:1:2:0:0:0:0/64");
  assert.equal(clientGroup("2001:db8:1:2::1", 56), "2001:db8:1:0:0:0:0:0/56");
  assert.equal(clientGroup("2001:db8:1:2::1", 48), "2001:db8:1:0:0:0:0:0/48");
  assert.equal(clientGroup("2001:db8::1", 128), "2001:db8:0:0:0:0:0:1/128");
  assert.equal(clientGroup("::1", 64), "0:0:0:0:0:0:0:0/64");
  assert.equal(clientGroup("fe80::1%eth0", 64), "fe80:0:0:0:0:0:0:0/64");
  // An IPv4 client reached over IPv6 is still its IPv4 address.
  assert.equal(clientGroup("::ffff:192.0.2.7", 64), "192.0.2.7");
  // Not an address: as it came (each odd value counts apart, as before).
  for (const odd of ["unknown", "1:2:3", "2001:db8::1::2", "::ffff:300.0.0.1", "gggg::1"]) {
    assert.equal(clientGroup(odd, 64), odd);
  }
});
