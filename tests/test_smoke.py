from tests.factories.world import build_world, receipt_payload


def test_receipt_round_trip(client, uow):
    world = build_world(uow)
    first = client.post("/api/v1/receipts", json=receipt_payload(world, "R1"), headers=world.till())
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/receipts", json=receipt_payload(world, "R1"), headers=world.till())
    assert again.status_code == 200
    assert again.json() == first.json()
