"""Data-parallel training on two hosts with the script's own gloo rendezvous (SageMaker's PyTorch
MNIST example's pattern): ranks from SM_HOSTS / SM_CURRENT_HOST, MASTER_ADDR / MASTER_PORT from the
toolkit, gradients averaged by all_reduce, the model saved by the first host. Handlers for serving are
in this file too."""

import argparse
import json
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def build():
    return nn.Linear(3, 1)


def model_fn(model_dir):
    model = build()
    model.load_state_dict(torch.load(os.path.join(model_dir, "model.pth")))
    return model.eval()


def predict_fn(input_data, model):
    with torch.no_grad():
        return model(torch.as_tensor(input_data, dtype=torch.float32)).squeeze(1).numpy()


def main(args):
    world_size = len(args.hosts)
    rank = args.hosts.index(args.current_host)
    os.environ["WORLD_SIZE"] = str(world_size)
    os.environ["RANK"] = str(rank)
    dist.init_process_group(backend=args.backend, rank=rank, world_size=world_size)
    print(f"rank {dist.get_rank()} of {dist.get_world_size()} on {args.current_host}, {args.num_cpus} cpus")

    table = np.loadtxt(os.path.join(args.data_dir, "train.csv"), delimiter=",", dtype=np.float32)
    shard = table[rank::world_size]  # every host reads its own rows of the replicated channel
    y, x = torch.tensor(shard[:, :1]), torch.tensor(shard[:, 1:])
    torch.manual_seed(0)
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for _ in range(args.epochs):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        for parameter in model.parameters():
            dist.all_reduce(parameter.grad.data, op=dist.ReduceOp.SUM)
            parameter.grad.data /= world_size
        optimizer.step()
    print(f"rank {rank} loss={loss.item():.5f}")
    if rank == 0:
        torch.save(model.state_dict(), os.path.join(args.model_dir, "model.pth"))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--backend", type=str, default="gloo")
    parser.add_argument("--hosts", type=list, default=json.loads(os.environ["SM_HOSTS"]))
    parser.add_argument("--current-host", type=str, default=os.environ["SM_CURRENT_HOST"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--data-dir", type=str, default=os.environ["SM_CHANNEL_TRAINING"])
    parser.add_argument("--num-cpus", type=int, default=int(os.environ["SM_NUM_CPUS"]))
    main(parser.parse_args())
