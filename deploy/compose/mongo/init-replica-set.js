// One-shot: turn the single mongod into a one-member replica set (idempotent).
// A replica set, not a standalone server, is what production MongoDB is; the services need
// nothing more than this (no transactions, no change streams), but drivers then see the same
// topology they see in production.
try {
  const status = rs.status();
  print(`replica set ${status.set} already initiated`);
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0 initiated");
}
// wait until this member is primary, so dependents can write at once
while (!db.hello().isWritablePrimary) sleep(200);
