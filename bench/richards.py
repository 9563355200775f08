"""A small operating-system task scheduler (classes, method calls, attribute updates)."""

IDLE, WORKER, HANDLER_A, HANDLER_B, DEVICE_A, DEVICE_B = range(6)


class Packet:
    def __init__(self, link, ident, kind):
        self.link = link
        self.ident = ident
        self.kind = kind
        self.datum = 0
        self.data = [0] * 4

    def append_to(self, queue):
        self.link = None
        if queue is None:
            return self
        p = queue
        while p.link is not None:
            p = p.link
        p.link = self
        return queue


class Task:
    def __init__(self, sched, ident, priority, queue, fn):
        self.sched = sched
        self.ident = ident
        self.priority = priority
        self.queue = queue
        self.fn = fn
        self.held = False
        self.waiting = queue is None
        self.state = 0
        self.count = 0

    def runnable(self):
        return not self.held and (not self.waiting or self.queue is not None)


class Scheduler:
    def __init__(self):
        self.tasks = {}
        self.queue_count = 0
        self.hold_count = 0

    def add(self, ident, priority, queue, fn):
        self.tasks[ident] = Task(self, ident, priority, queue, fn)

    def send(self, packet, target):
        self.queue_count += 1
        task = self.tasks[target]
        packet.link = None
        packet.ident = target
        task.queue = packet.append_to(task.queue)
        task.waiting = False

    def run(self, steps):
        order = sorted(self.tasks.values(), key=lambda t: -t.priority)
        for _ in range(steps):
            ran = False
            for task in order:
                if task.runnable():
                    packet = task.queue
                    if packet is not None:
                        task.queue = packet.link
                    task.fn(task, packet)
                    ran = True
                    break
            if not ran:
                break


def worker(task, packet):
    if packet is None:
        task.waiting = True
        return
    task.state = HANDLER_B if task.state == HANDLER_A else HANDLER_A
    packet.ident = task.state
    packet.datum = 0
    for i in range(4):
        task.count = task.count + 1 if task.count < 26 else 1
        packet.data[i] = task.count
    task.sched.send(packet, task.state)


def handler(task, packet):
    if packet is None:
        task.waiting = True
        return
    packet.datum += 1
    task.sched.send(packet, DEVICE_A if task.ident == HANDLER_A else DEVICE_B)


def device(task, packet):
    if packet is None:
        task.waiting = True
        return
    task.sched.hold_count += 1
    task.sched.send(packet, WORKER)


def idle(task, packet):
    task.count += 1
    task.sched.send(Packet(None, WORKER, 0), WORKER)


def run(scale):
    total = 0
    for _ in range(40 * scale):
        s = Scheduler()
        s.add(IDLE, 0, None, idle)
        s.add(WORKER, 1000, Packet(None, WORKER, 0), worker)
        s.add(HANDLER_A, 2000, None, handler)
        s.add(HANDLER_B, 3000, None, handler)
        s.add(DEVICE_A, 4000, None, device)
        s.add(DEVICE_B, 5000, None, device)
        s.run(4000)
        total += s.queue_count + s.hold_count
    return total
