import { asParticipantId } from '../../common';
import { CapacityLedger } from './capacity-ledger';

describe('CapacityLedger: what this node carries', () => {
  it('four audio participants (0.25) fill one unit; the fifth is refused with capacity (SIP 503)', () => {
    const ledger = new CapacityLedger(1);
    for (let i = 0; i < 4; i++) ledger.reserve(0.25).commit(asParticipantId(`p${i}`));
    expect(() => ledger.reserve(0.25)).toThrow(expect.objectContaining({ code: 'capacity' }));
    expect(ledger.load).toBe(1);
  });

  it('reservations count while media is set up; a released one frees its units, and release is idempotent', () => {
    const ledger = new CapacityLedger(0.5);
    const r1 = ledger.reserve(0.25);
    ledger.reserve(0.25);
    expect(() => ledger.reserve(0.25)).toThrow(/node full/);
    r1.release();
    r1.release();
    r1.commit(asParticipantId('late')); // a commit after release takes nothing
    expect(ledger.load).toBe(0.25);
  });

  it('a committed participant holds its units until it leaves; leaving twice frees them once', () => {
    const ledger = new CapacityLedger(2);
    const id = asParticipantId('a');
    ledger.reserve(1).commit(id);
    ledger.reserve(0.25).commit(asParticipantId('b'));
    ledger.release(id);
    ledger.release(id);
    expect(ledger.load).toBe(0.25);
    ledger.release(asParticipantId('b'));
    expect(ledger.load).toBe(0);
  });

  it('a backplane charge is load without a reservation, charged once per key', () => {
    const ledger = new CapacityLedger(2);
    ledger.charge('backplane:meet', 1);
    ledger.charge('backplane:meet', 1);
    expect(ledger.load).toBe(1);
    expect(() => ledger.reserve(1.25)).toThrow(/full/);
    ledger.release('backplane:meet');
    expect(ledger.load).toBe(0);
  });
});
