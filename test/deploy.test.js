// Smoke test on Hardhat Network: the Hardhat-compiled registry deploys and is wired together.
// Behaviour (every function, every role) is tested by the Python suite against anvil; see
// tests/test_roles_matrix.py.

const assert = require("node:assert/strict");
const hre = require("hardhat");

const provider = hre.network.provider;
const word = (address) => address.toLowerCase().replace(/^0x/, "").padStart(64, "0");
const bool = (hex) => BigInt(hex) === 1n;

async function deploy(from, name, ...addresses) {
  const { bytecode } = await hre.artifacts.readArtifact(name);
  const data = bytecode + addresses.map(word).join("");
  const hash = await provider.request({ method: "eth_sendTransaction", params: [{ from, data }] });
  const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
  assert.equal(receipt.status, "0x1", `${name} deployment failed`);
  return receipt.contractAddress;
}

const call = (to, data) => provider.request({ method: "eth_call", params: [{ to, data }, "latest"] });

describe("Tanhui registry on Hardhat Network", function () {
  it("deploys and trusts its forwarder", async function () {
    const [governance] = await provider.request({ method: "eth_accounts" });
    const forwarder = await deploy(governance, "TanhuiForwarder");
    // Consortium(governance, governanceDelay, reports, forwarder): a 2-day handover delay; the
    // MonitoringReports address only bounds oracle revocations, so any non-zero one serves here.
    const delay = "0x" + (2 * 86400).toString(16);
    const consortium = await deploy(governance, "Consortium", governance, delay, forwarder, forwarder);
    // memberCount() = 0x11aee380, isMember(address) = 0xa230c524,
    // isTrustedForwarder(address) = 0x572b6c05
    assert.equal(BigInt(await call(consortium, "0x11aee380")), 1n);
    assert.ok(bool(await call(consortium, "0xa230c524" + word(governance))));
    assert.ok(bool(await call(consortium, "0x572b6c05" + word(forwarder))));
    assert.ok(!bool(await call(consortium, "0x572b6c05" + word(governance))));
    // defaultAdmin() = 0x84ef8ffc: governance is the single admin
    assert.equal(BigInt(await call(consortium, "0x84ef8ffc")), BigInt(governance));
  });
});
