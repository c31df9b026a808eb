"""Every layer of ``plugtorch.nn``, one file per family."""
from plugtorch.nn.modules.activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish,  # noqa: F401
                                             Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6,
                                             Sigmoid, SiLU, Softmax, Softmin, Softplus, Softsign, Tanh, Tanhshrink,
                                             Threshold)
from plugtorch.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from plugtorch.nn.modules.loss import NLLLoss2d  # noqa: F401
from plugtorch.nn.modules.activation import Hardshrink, RReLU, Softmax2d, Softshrink  # noqa: F401
from plugtorch.nn.modules.attention import MultiheadAttention  # noqa: F401
from plugtorch.nn.modules.container import (Container, ModuleDict, ModuleList, ParameterDict,  # noqa: F401
                                            ParameterList, Sequential)
from plugtorch.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,  # noqa: F401
                                        ConvTranspose3d, LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d,
                                        LazyConvTranspose2d, LazyConvTranspose3d)
from plugtorch.nn.modules.distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from plugtorch.nn.modules.dropout import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,  # noqa: F401
                                          FeatureAlphaDropout)
from plugtorch.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from plugtorch.nn.modules.linear import Bilinear, Identity, LazyLinear, Linear  # noqa: F401
from plugtorch.nn.modules.lazy import LazyModuleMixin  # noqa: F401
from plugtorch.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss,  # noqa: F401
                                       CrossEntropyLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss,
                                       MarginRankingLoss, MSELoss, MultiLabelMarginLoss, MultiMarginLoss,
                                       NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                                       TripletMarginLoss, GaussianNLLLoss, MultiLabelSoftMarginLoss,
                                       TripletMarginWithDistanceLoss, CTCLoss)
from plugtorch.nn.modules.module import Module  # noqa: F401
from plugtorch.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d,  # noqa: F401
                                          ConstantPad2d, ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
                                          ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                          ZeroPad1d, ZeroPad2d, ZeroPad3d)
from plugtorch.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d,  # noqa: F401
                                                LayerNorm, RMSNorm)
from plugtorch.nn.modules.normalization import (BatchNorm3d, CrossMapLRN2d, InstanceNorm1d, InstanceNorm3d,  # noqa: F401
                                                LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d,
                                                LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d,
                                                LocalResponseNorm, SyncBatchNorm)
from plugtorch.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,  # noqa: F401
                                          AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)
from plugtorch.nn.modules.pooling import (AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool3d,  # noqa: F401
                                          AvgPool3d, LPPool1d, LPPool2d, LPPool3d, MaxPool3d, MaxUnpool1d,
                                          MaxUnpool2d, MaxUnpool3d)
from plugtorch.nn.modules.pooling import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401
from plugtorch.nn.modules.rnn import (GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell,  # noqa: F401
                                      RNNCellBase)
from plugtorch.nn.modules.sparse import Embedding, EmbeddingBag  # noqa: F401
from plugtorch.nn.modules.transformer import (Transformer, TransformerDecoder,  # noqa: F401
                                              TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)
from plugtorch.nn.modules.fold import Fold, Unfold  # noqa: F401
from plugtorch.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401
from plugtorch.nn.modules.pixelshuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle  # noqa: F401
