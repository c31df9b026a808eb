"""``plugtorch.nn.utils``: gradient clipping, parameter/vector conversion, ``rnn`` (packed sequences),
parametrizations, pruning, weight/spectral norm, ``functional_call``, conv/linear-BN fusion, ``skip_init``."""
from plugtorch.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,  # noqa: F401
                                          clip_grads_with_norm_, get_total_norm)
from plugtorch.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from plugtorch.nn.utils import rnn  # noqa: F401
from plugtorch.nn.utils import fusion, parametrize, parametrizations, prune, stateless  # noqa: F401,E402
from plugtorch.nn.utils.fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,  # noqa: F401,E402
                                       fuse_linear_bn_weights)
from plugtorch.nn.utils.init import skip_init  # noqa: F401,E402
from plugtorch.nn.utils.weight_norm import remove_weight_norm, weight_norm  # noqa: F401,E402
from plugtorch.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401,E402
from plugtorch.nn.utils import memory_format  # noqa: F401,E402
from plugtorch.nn.utils.memory_format import (convert_conv2d_weight_memory_format,  # noqa: F401,E402
                                             convert_conv3d_weight_memory_format)
